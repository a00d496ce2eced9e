"""Tests for theorylab.optim.restem: sampling, the E-step filter, the M-step, the EM bound, the precision formula."""

import numpy as np
from scipy.optimize import minimize
from scipy.special import log_softmax, softmax

from theorylab.data import arith
from theorylab.optim import restem

TASK = arith.Task(4)


def _setup(r=2, n=30, seed=0):
    gen = np.random.default_rng(seed)
    xs = [arith.split(TASK, n, 10, gen) for _ in range(r)]
    return np.stack([a for a, _ in xs]), np.stack([b for _, b in xs]), gen


def test_base_is_normalized_and_sloppy():
    b = restem.base(TASK, 3, tau=1.0)
    assert np.allclose(b.t1.sum(-1), 1) and np.allclose(b.t2.sum(-1), 1)
    assert np.all(b.t1[0, 1, 2].argmax() == 3)
    u = restem.base(TASK, 1)
    assert np.allclose(u.t1, 1 / TASK.n_mid)


def test_pass_rate_matches_sampling():
    x, _, gen = _setup()
    pol = restem.base(TASK, 2, tau=1.0)
    s, y = restem.sample(pol, TASK, x, 20_000, gen)
    mc = arith.reward(x[:, :, None, :], y).mean(-1)
    exact = restem.pass_rate(pol, TASK, x)
    assert np.abs(mc - exact).max() < 5 * 0.5 / np.sqrt(20_000)
    cot = (s == arith.solution(x)[0][..., None]).mean(-1)
    assert np.abs(cot - restem.cot_rate(pol, TASK, x)).max() < 5 * 0.5 / np.sqrt(20_000)


def test_mstep_is_weighted_frequency_without_prior():
    x, _, gen = _setup(r=1, n=40)
    pol = restem.base(TASK, 1, tau=1.0)
    s, y = restem.sample(pol, TASK, x, 5, gen)
    w = gen.random(s.shape)
    new = restem.mstep(TASK, x, s, y, w, 0.0, pol)
    a, b = x[0, 0, 0], x[0, 0, 1]
    mask = (x[0, :, 0] == a) & (x[0, :, 1] == b)
    counts = np.bincount(s[0][mask].ravel(), weights=w[0][mask].ravel(), minlength=TASK.n_mid)
    assert np.allclose(new.t1[0, a, b], counts / counts.sum())


def test_mstep_maximizes_the_penalized_likelihood():
    """The closed form (alpha p0 + n) / (alpha + N) against a numerical maximization over the logits."""
    gen = np.random.default_rng(3)
    n = gen.random(TASK.n_mid) * 3 * (gen.random(TASK.n_mid) < 0.4)
    p0 = restem.base(TASK, 1, tau=1.0).t1[0, 1, 2]
    alpha = 1.3
    res = minimize(lambda z: -((n + alpha * p0) * log_softmax(z)).sum(), np.zeros(TASK.n_mid),
                   jac=lambda z: -(n + alpha * p0) + (n + alpha * p0).sum() * softmax(z), method="BFGS",
                   options=dict(gtol=1e-12))
    closed = (alpha * p0 + n) / (alpha + n.sum())
    assert np.allclose(softmax(res.x), closed, atol=1e-6)
    # the library's M-step gives the same in one context
    x = np.array([[[1, 2, 0]]])
    s = np.repeat(np.arange(TASK.n_mid), 1)[None, None, :]
    y = np.zeros_like(s)
    pol = restem.mstep(TASK, x, s, y, n[None, None, :], alpha, restem.base(TASK, 1, tau=1.0))
    assert np.allclose(pol.t1[0, 1, 2], closed)


def test_precision_formula_by_monte_carlo():
    x, _, gen = _setup(r=1, n=40)
    pol = restem.base(TASK, 1, tau=1.0)
    k = 5000
    s, y = restem.sample(pol, TASK, x, k, gen)
    w = restem.estep(TASK, x, y, gen, 0.2, 0.3)
    right = arith.reward(x[:, :, None, :], y)
    measured = (w * right).sum() / w.sum()
    predicted = restem.precision(restem.pass_rate(pol, TASK, x).mean(), 0.2, 0.3)
    assert abs(measured - predicted) < 5 * np.sqrt(predicted * (1 - predicted) / w.sum())
    assert restem.precision(0.4, 0.5, 0.5) == 0.4          # a coin keeps the policy's own mix


def test_elbo_tight_at_posterior_and_a_bound_elsewhere():
    x, _, gen = _setup()
    pol = restem.base(TASK, 2, tau=1.0)
    log_a = np.log(restem.pass_rate(pol, TASK, x))
    q = restem.posterior(pol, TASK, x)
    assert np.allclose(restem.elbo(pol, TASK, x, q), log_a, atol=1e-12)
    other = q * gen.random(q.shape)
    other /= other.sum((-2, -1), keepdims=True)
    assert np.all(restem.elbo(pol, TASK, x, other) <= log_a + 1e-12)


def test_expected_step_is_the_large_k_limit():
    x, _, gen = _setup(r=1, n=40)
    start = restem.base(TASK, 1, tau=1.0)
    k = 4000
    s, y = restem.sample(start, TASK, x, k, gen)
    w = restem.estep(TASK, x, y, gen, 0.1, 0.2)
    sampled = restem.mstep(TASK, x, s, y, w, 1.0, start)
    mean_field = restem.expected_step(start, TASK, x, k, 1.0, start, 0.1, 0.2)
    assert np.abs(sampled.t1 - mean_field.t1).max() < 0.03
    assert np.abs(sampled.t2 - mean_field.t2).max() < 0.06


def test_run_exact_verifier_keeps_only_right_answers_and_improves():
    x, xt, gen = _setup(n=50)
    start = restem.base(TASK, 2, tau=1.0)
    h = restem.run(TASK, start, start, x, xt, 3, 4, 1.0, gen)
    assert np.all(h.precision == 1.0)
    assert np.all(h.train_acc[-1] > h.train_acc[0])
    assert h.test_acc.shape == (4, 2) and len(h.policies) == 4
