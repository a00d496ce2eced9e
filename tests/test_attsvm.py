"""Tests of the attention layer (theorylab.nets.attention) and the Att-SVM solvers (theorylab.optim.attsvm)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from theorylab import rng
from theorylab.nets import attention as at
from theorylab.optim import attsvm as sv


def _data(s=2, n=4, T=3, d=5):
    return at.separated_tokens(n, T, d, [rng.numpy(i, "test") for i in range(s)])


def test_scores_are_separated_and_opt_is_the_top_score():
    data = _data()
    sc = data.scores
    assert np.allclose(np.take_along_axis(sc, data.opt[..., None], -1), 1.0)
    assert (np.sort(sc, -1)[..., :-1] <= -0.5 + 1e-12).all()


def test_log_domain_direction_matches_autograd():
    data = _data()
    gen = rng.numpy(0, "w")
    w = gen.standard_normal((2, 5, 5))
    u, log_g = at.descent_direction(w, data)
    wt = torch.tensor(w, requires_grad=True)
    x, z, v, y = (torch.tensor(a) for a in (data.x, data.z, data.v, data.y))
    s = torch.softmax(torch.einsum("sntd,sde,sne->snt", x, wt, z), -1)
    f = torch.einsum("snt,sntd,sd->sn", s, x, v)
    torch.nn.functional.softplus(-y * f).mean(-1).sum().backward()
    g = -wt.grad.numpy()
    assert np.allclose(u, g / np.linalg.norm(g, axis=(1, 2), keepdims=True), atol=1e-12)
    assert np.allclose(log_g, np.log(np.linalg.norm(g, axis=(1, 2))), atol=1e-10)
    assert np.allclose(at.loss(w, data), torch.nn.functional.softplus(-y * f).mean(-1).detach().numpy())


def test_log_domain_direction_stays_finite_where_naive_underflows():
    data = _data(s=1)
    a = sv.constraints(data.x[0], data.z[0], data.opt[0])
    w = 1e3 * sv.frobenius_svm(a)[None]          # logit gaps ~ 1000: every tail underflows
    u, log_g = at.descent_direction(w, data)
    assert np.isfinite(u).all() and np.isclose(np.linalg.norm(u), 1.0) and np.isfinite(log_g).all()
    assert log_g[0] < -500                      # the gradient itself is far below float64's range
    naive, _ = at.naive_direction(w, data, "float64")
    assert not np.isfinite(naive).all() or np.abs(at.cosine(naive, u)) < 0.99


def test_frobenius_svm_two_routes_and_feasibility():
    data = _data(s=1, n=4, T=4, d=5)
    a = sv.constraints(data.x[0], data.z[0], data.opt[0])
    w1, w2 = sv.frobenius_svm(a), sv.frobenius_svm_slsqp(a)
    assert np.isclose(sv.svm_margin(w1, a), 1.0, atol=1e-9)
    assert np.allclose(w1, w2, atol=1e-6 * np.linalg.norm(w1))


def test_nuclear_svm_certificate_and_factored_route():
    data = _data(s=1, n=4, T=4, d=5)
    a = sv.constraints(data.x[0], data.z[0], data.opt[0])
    res = sv.nuclear_svm(a, tol=1e-9)
    assert res.gap < 1e-9 and np.isclose(sv.svm_margin(res.w, a), 1.0)
    bm = sv.nuclear_svm_factored(a, rng.numpy(0, "bm"), restarts=4)
    assert np.isclose(sv.nuclear_norm(bm) / sv.svm_margin(bm, a), sv.nuclear_norm(res.w), rtol=1e-5)
    assert at.cosine(bm, res.w) > 1 - 1e-5
    # the nuclear solution has a smaller nuclear norm, the Frobenius one a smaller Frobenius norm
    wf = sv.frobenius_svm(a)
    assert sv.nuclear_norm(res.w) <= sv.nuclear_norm(wf) + 1e-9
    assert np.linalg.norm(wf) <= np.linalg.norm(res.w) + 1e-9


def test_nuclear_svm_matches_brute_force_dual_on_a_tiny_instance():
    gen = rng.numpy(1, "tiny")
    a = np.stack([np.outer(gen.standard_normal(2), gen.standard_normal(2)) for _ in range(3)])
    a[:, 0, 0] += 2.0                            # keep the instance feasible
    res = sv.nuclear_svm(a, tol=1e-10)
    # gamma* = min over the simplex of ||sum_k p_k A_k||_2, on a fine grid of the 2-simplex
    g = np.linspace(0, 1, 601)
    p1, p2 = np.meshgrid(g, g)
    keep = p1 + p2 <= 1
    p = np.stack([p1[keep], p2[keep], 1 - p1[keep] - p2[keep]], 1)
    best = np.linalg.norm(np.einsum("pk,kde->pde", p, a), ord=2, axis=(1, 2)).min()
    assert np.isclose(1 / sv.nuclear_norm(res.w), best, rtol=1e-4)


def test_training_moves_by_lr_and_kq_is_a_product():
    data = _data(s=2, n=4, T=3, d=4)
    tr = at.train(data, param="w", lr=0.1, steps=10, record_every=1)
    steps = np.linalg.norm(np.diff(tr.w, axis=0), axis=(2, 3))
    assert np.allclose(steps, 0.1)
    gen = rng.numpy(0, "kq")
    k0, q0 = 0.5 * gen.standard_normal((2, 2, 4, 4))
    tr = at.train(data, param="kq", lr=0.1, steps=5, record_every=5, k0=k0, q0=q0)
    assert np.allclose(tr.w[0], k0 @ q0.transpose(0, 2, 1))
    with pytest.raises(ValueError):
        at.train(data, param="kq", lr=0.1, steps=5)


def test_local_optimality_of_the_constructed_runner_up():
    data = at.two_optima_tokens(3, 5, [rng.numpy(0, "two")])
    order = np.argsort(data.scores[0], -1)
    for k, expected in ((2, True), (1, True), (0, False)):
        sel = order[:, k]
        w = sv.frobenius_svm(sv.constraints(data.x[0], data.z[0], sel))
        assert sv.is_locally_optimal(data.x[0], data.z[0], sel, data.scores[0], w) is expected


def test_bad_arguments_raise():
    data = _data(s=1)
    with pytest.raises(ValueError):
        sv.constraints(data.x[0], data.z[0], np.array([0, 9, 0, 0]))
    with pytest.raises(ValueError):
        at.train(data, param="qk", lr=0.1, steps=2)
    with pytest.raises(ValueError):
        at.separated_tokens(3, 3, 3, [rng.numpy(0)], low=0.0, high=2.0)


def test_spectral_summaries_on_a_known_matrix():
    w = np.diag([3.0, -4.0, 0.0])
    assert np.isclose(at.stable_rank(w), 25 / 16)          # ||W||_F^2 / ||W||_2^2
    assert np.isclose(at.top_share(w), 4 / 7)              # sigma_1 / sum sigma
    assert np.isclose(sv.nuclear_norm(w), 7.0)
    assert np.isclose(at.cosine(w, 2 * w), 1.0)
