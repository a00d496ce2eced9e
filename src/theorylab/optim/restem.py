r"""ReST^EM: expectation-maximization for a policy with a binary reward, on a two-token reasoning task.

The policy writes a chain-of-thought token :math:`s`, then an answer :math:`y`. Each step is a softmax
policy over tokens whose context is a *sub-problem*, not the whole problem:

.. math::
    p_\theta(s, y \mid a, b, c) = p_\theta(s \mid a, b)\; p_\theta(y \mid s, c),

one categorical distribution per pair :math:`(a, b)` and per pair :math:`(s, c)` (the softmax of a
free logit vector). A held-out problem :math:`(a, b, c)` is solved by composing two skills learned
from other problems, so test accuracy measures composition, not recall of whole problems.

For a binary reward :math:`r`, Jensen's inequality gives, for every distribution :math:`q` over
solutions with :math:`q > 0 \Rightarrow r\,p_\theta > 0`,

.. math:: \log \mathbb E_{p_\theta}[r] \;\ge\; \mathbb E_q\!\left[\log \frac{r\, p_\theta}{q}\right],

with equality at :math:`q \propto r\, p_\theta` (the E-step). ReST^EM estimates that :math:`q` by
sampling :math:`K` solutions per problem and keeping those the verifier accepts, then (the M-step)
maximizes the reward-weighted log-likelihood :math:`\sum_i r_i \log p_\theta(s_i, y_i \mid x_i)`,
each time starting again from the *base* model. For categorical steps the M-step has a closed form,
weighted counts, smoothed towards the base model.

With a verifier that accepts right answers w.p. :math:`1-\beta` and wrong ones w.p. :math:`\alpha_v`,
the fraction of right answers among the kept samples (the filter's *precision*) is

.. math:: \pi = \frac{(1-\beta)\bar A}{(1-\beta)\bar A + \alpha_v(1-\bar A)},

with :math:`\bar A` the sampling policy's mean pass rate over the problems. Kept data are better than
the policy's own samples (:math:`\pi > \bar A`) iff :math:`1 - \beta > \alpha_v`.

Reference: Singh et al., *Beyond Human Data: Scaling Self-Training for Problem-Solving with Language
Models*, TMLR 2024 (arXiv 2312.06585), Section 3 (EM for RL; the Generate and Improve steps). The
toy policy, the smoothed M-step and the precision formula are ours.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..data import arith
from ..runtime import require_float, require_int

__all__ = ["Policy", "History", "base", "step_probs", "pass_rate", "cot_rate", "sample", "estep", "mstep",
           "expected_step", "demonstrations", "precision", "elbo", "posterior", "run"]


@dataclass(frozen=True)
class Policy:
    """R independent policies: t1 (R, p, p, S) = p(s | a, b) and t2 (R, S, p, Y) = p(y | s, c)."""

    t1: np.ndarray
    t2: np.ndarray


def base(task: arith.Task, replicas: int, tau: float = np.inf) -> Policy:
    r"""The base ("pretrained") model: a sloppy adder, p(s | a, b) proportional to exp(-|s - a - b| / tau).

    The same law gives p(y | s, c) around s + c. ``tau = inf`` is the uniform policy; small ``tau`` a
    nearly exact adder. Its mistakes are mostly off by one, in either direction.
    """
    if tau != np.inf:
        tau = require_float("tau", tau, low=0.0, low_open=True)
    p, s_, y_ = task.p, task.n_mid, task.n_answer
    g = np.arange(p)
    gap1 = np.abs(np.arange(s_) - (g[:, None, None] + g[None, :, None]))          # (p, p, S)
    gap2 = np.abs(np.arange(y_) - (np.arange(s_)[:, None, None] + g[None, :, None]))   # (S, p, Y)
    t1, t2 = np.exp(-gap1 / tau), np.exp(-gap2 / tau)
    t1, t2 = t1 / t1.sum(-1, keepdims=True), t2 / t2.sum(-1, keepdims=True)
    return Policy(np.repeat(t1[None], replicas, 0), np.repeat(t2[None], replicas, 0))


def _rows(table: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """table[r, i[r, ...], j[r, ...], :] for every replica r: table (R, I, J, C), i and j (R, ...)."""
    r = np.arange(table.shape[0]).reshape((-1,) + (1,) * (i.ndim - 1))
    return table[r, i, j]


def step_probs(pol: Policy, task: arith.Task, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """p(s | x) as (R, n, S) and p(y | x, s) for every s as (R, n, S, Y), for problems x (R, n, 3)."""
    p1 = _rows(pol.t1, x[..., 0], x[..., 1])
    s_all = np.broadcast_to(np.arange(task.n_mid), x.shape[:2] + (task.n_mid,))
    return p1, _rows(pol.t2, s_all, np.broadcast_to(x[..., 2:3], s_all.shape))


def pass_rate(pol: Policy, task: arith.Task, x: np.ndarray) -> np.ndarray:
    r"""Exact probability that one sampled solution is right, A(x) = sum_s p(s|a,b) p(a+b+c | s, c): (R, n)."""
    p1 = _rows(pol.t1, x[..., 0], x[..., 1])
    y_star = arith.solution(x)[1]
    r = np.arange(x.shape[0])[:, None, None]
    p_right = pol.t2[r, np.arange(task.n_mid), x[..., 2:3], y_star[..., None]]          # (R, n, S)
    return (p1 * p_right).sum(-1)


def cot_rate(pol: Policy, task: arith.Task, x: np.ndarray) -> np.ndarray:
    """Exact probability that the chain-of-thought token is right, p(a+b | a, b): (R, n)."""
    p1 = _rows(pol.t1, x[..., 0], x[..., 1])
    return np.take_along_axis(p1, arith.solution(x)[0][..., None], -1)[..., 0]


def _draw(prob: np.ndarray, gen: np.random.Generator) -> np.ndarray:
    """One categorical draw per row of prob (..., C) by inverting the cumulative sum."""
    u = gen.random(prob.shape[:-1] + (1,))
    return np.minimum((np.cumsum(prob, -1) < u).sum(-1), prob.shape[-1] - 1)


def sample(pol: Policy, task: arith.Task, x: np.ndarray, k: int, gen: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """K solutions per problem, autoregressively: s ~ p(s|a,b), then y ~ p(y|s,c). Returns s, y as (R, n, K)."""
    k = require_int("k", k, minimum=1)
    xk = np.repeat(x[:, :, None, :], k, 2)
    s = _draw(_rows(pol.t1, xk[..., 0], xk[..., 1]), gen)
    return s, _draw(_rows(pol.t2, s, xk[..., 2]), gen)


def estep(task: arith.Task, x: np.ndarray, y: np.ndarray, gen: np.random.Generator, fpr=0.0, fnr=0.0) -> np.ndarray:
    """The E-step's weights: the verifier's verdict on each sample, x (R, n, 3), y (R, n, K) -> (R, n, K).

    ``fpr`` and ``fnr`` broadcast against (R, n, K); pass (R, 1, 1) arrays for one verifier per replica.
    """
    return arith.verify(x[:, :, None, :], y, gen, fpr, fnr)


def _counts(shape: tuple, r: np.ndarray, i: np.ndarray, j: np.ndarray, c: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted counts n[r, i, j, c] = sum of w over the samples with those indices."""
    flat = np.ravel_multi_index((r.ravel(), i.ravel(), j.ravel(), c.ravel()), shape)
    return np.bincount(flat, weights=w.ravel(), minlength=int(np.prod(shape))).reshape(shape)


def mstep(task: arith.Task, x: np.ndarray, s: np.ndarray, y: np.ndarray, weight: np.ndarray, alpha: float,
          prior: Policy) -> Policy:
    r"""The M-step: weighted maximum likelihood of both steps, regularized towards the base model ``prior``.

    .. math:: p^+(s \mid a, b) = \frac{\alpha\, p_0(s \mid a, b) + \sum_{i,k} w_{ik} 1\{(a_i, b_i, s_{ik}) = (a, b, s)\}}
              {\alpha + \sum_{i,k} w_{ik} 1\{(a_i, b_i) = (a, b)\}}

    and the same for p(y | s, c): the maximizer of sum_{ik} w_ik log p(s_ik, y_ik | x_i)
    + alpha sum_ctx sum_tok p_0(tok | ctx) log p(tok | ctx), which is also the posterior mean under a Dirichlet
    prior of mass alpha centred at the base p_0 (its mode would need mass alpha p_0 + 1). It starts afresh from the base at every call: the previous policy enters only through the
    samples. With alpha = 0 it is the weighted empirical frequency (contexts never seen keep the base).
    x (R, n, 3); s, y, weight (R, n, K).
    """
    alpha = require_float("alpha", alpha, low=0.0)
    r_, n, k = s.shape
    r = np.broadcast_to(np.arange(r_)[:, None, None], s.shape)
    xk = np.broadcast_to(x[:, :, None, :], (r_, n, k, 3))
    w = np.asarray(weight, float)
    n1 = _counts((r_, task.p, task.p, task.n_mid), r, xk[..., 0], xk[..., 1], s, w)
    n2 = _counts((r_, task.n_mid, task.p, task.n_answer), r, s, xk[..., 2], y, w)
    return _smooth(n1, n2, alpha, prior)


def _smooth(n1: np.ndarray, n2: np.ndarray, alpha: float, prior: Policy) -> Policy:
    """(alpha p0 + n) / (alpha + sum n) per context; a context with no counts keeps the base."""
    out = []
    for counts, p0 in ((n1, prior.t1), (n2, prior.t2)):
        total = counts.sum(-1, keepdims=True)
        out.append(np.where(total > 0, (alpha * p0 + counts) / np.maximum(alpha + total, 1e-300), p0))
    return Policy(*out)


def expected_step(pol: Policy, task: arith.Task, x: np.ndarray, k: int, alpha: float, prior: Policy,
                  fpr=0.0, fnr=0.0) -> Policy:
    r"""The EM map in expectation: the M-step applied to the *expected* weighted counts of one iteration.

    .. math:: \mathbb E\, n_1(a, b, s) = K \sum_{i: (a_i, b_i) = (a, b)} p(s \mid a, b)\, v_i(s), \qquad
              v_i(s) = \sum_y p(y \mid s, c_i)\,[(1-\beta) r_i(y) + \alpha_v (1 - r_i(y))],

    and likewise for n_2. Replacing the ratio of random counts by the ratio of their expectations is
    exact when every context receives many samples; with few it is a mean-field approximation.
    ``fpr`` and ``fnr`` are scalars or (R,) arrays. x (R, n, 3).
    """
    r_, n, _ = x.shape
    fpr_a = np.broadcast_to(np.asarray(fpr, float).ravel(), (r_,)) if np.size(fpr) > 1 else np.full(r_, float(fpr))
    fnr_a = np.broadcast_to(np.asarray(fnr, float).ravel(), (r_,)) if np.size(fnr) > 1 else np.full(r_, float(fnr))
    n1 = np.zeros(pol.t1.shape)
    n2 = np.zeros(pol.t2.shape)
    s = np.arange(task.n_mid)
    for j in range(r_):                                       # one replica at a time keeps the (n, S, Y) arrays small
        xj = x[j:j + 1]
        p1, p2 = step_probs(Policy(pol.t1[j:j + 1], pol.t2[j:j + 1]), task, xj)    # (1,n,S), (1,n,S,Y)
        right = arith.reward(xj[:, :, None, :], np.arange(task.n_answer))[:, :, None, :]   # (1,n,1,Y)
        accept = right * (1 - fnr_a[j]) + (1 - right) * fpr_a[j]
        w2 = (k * p1[..., None] * p2 * accept)[0]                                   # (n,S,Y)
        np.add.at(n1[j], (xj[0, :, 0:1], xj[0, :, 1:2], s), w2.sum(-1))
        for i in range(task.p):                                                      # c = i
            m = xj[0, :, 2] == i
            n2[j, :, i] += w2[m].sum(0)
    return _smooth(n1, n2, alpha, prior)


def demonstrations(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Human demonstrations: the correct (s, y) for problems x (R, n, 3), as (R, n, 1) arrays with weight 1."""
    s, y = arith.solution(x)
    return s[..., None], y[..., None], np.ones(s.shape + (1,))


def precision(pass_mean, fpr, fnr):
    r"""Fraction of right answers among the kept samples, (1-fnr) A / ((1-fnr) A + fpr (1-A)), A the mean pass rate."""
    a = np.asarray(pass_mean, float)
    tp = (1 - np.asarray(fnr, float)) * a
    return tp / (tp + np.asarray(fpr, float) * (1 - a))


def _joint(pol: Policy, task: arith.Task, x: np.ndarray) -> np.ndarray:
    """p_theta(s, y | x) for every solution: (R, n, S, Y)."""
    p1, p2 = step_probs(pol, task, x)
    return p1[..., None] * p2


def elbo(pol: Policy, task: arith.Task, x: np.ndarray, q: np.ndarray) -> np.ndarray:
    r"""E_q[log(r p_theta / q)] for a distribution q over the S x Y solutions of each problem: q (R, n, S, Y) -> (R, n).

    Terms with q = 0 contribute zero; q must vanish where r p_theta does.
    """
    joint = _joint(pol, task, x)
    r = arith.reward(x[:, :, None, :], np.arange(task.n_answer))[:, :, None, :] * np.ones_like(joint)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(q > 0, q * (np.log(r * joint) - np.log(q)), 0.0)
    return terms.sum((-2, -1))


def posterior(pol: Policy, task: arith.Task, x: np.ndarray) -> np.ndarray:
    """The exact E-step q(s, y | x) proportional to r p_theta(s, y | x): (R, n, S, Y)."""
    joint = _joint(pol, task, x) * arith.reward(x[:, :, None, :], np.arange(task.n_answer))[:, :, None, :]
    return joint / joint.sum((-2, -1), keepdims=True)


@dataclass(frozen=True)
class History:
    """A ReST^EM run: per iteration t = 0..T (t = 0 is the starting policy), arrays with a leading (T + 1,) axis.

    train_acc, test_acc: (T+1, R) exact mean pass rates; kept: (T, R) fraction of samples kept;
    precision: (T, R) fraction of right answers among the kept samples (Monte Carlo);
    pass_sampled: (T, R) the sampling policy's exact mean pass rate on the train problems;
    cot_right: (T, R) fraction of the kept samples whose chain-of-thought token is right too.
    """

    train_acc: np.ndarray
    test_acc: np.ndarray
    kept: np.ndarray
    precision: np.ndarray
    pass_sampled: np.ndarray
    cot_right: np.ndarray
    policies: list


def run(task: arith.Task, start: Policy, prior: Policy, x_train: np.ndarray, x_test: np.ndarray, iterations: int,
        k: int, alpha: float, gen: np.random.Generator, fpr=0.0, fnr=0.0) -> History:
    """ReST^EM from the policy ``start``: sample K per train problem, filter, refit from the base ``prior``; repeat.

    x_train (R, n, 3), x_test (R, m, 3); fpr, fnr broadcast against (R, n, K).
    """
    iterations = require_int("iterations", iterations, minimum=1)
    pol = start
    train, test, kept, prec, sampled, cot, pols = [pass_rate(pol, task, x_train).mean(-1)], \
        [pass_rate(pol, task, x_test).mean(-1)], [], [], [], [], [pol]
    for _ in range(iterations):
        sampled.append(train[-1])
        s, y = sample(pol, task, x_train, k, gen)
        w = estep(task, x_train, y, gen, fpr, fnr)
        right = arith.reward(x_train[:, :, None, :], y)
        kept.append(w.mean((1, 2)))
        prec.append((w * right).sum((1, 2)) / np.maximum(w.sum((1, 2)), 1))
        cot.append((w * (s == arith.solution(x_train)[0][..., None])).sum((1, 2)) / np.maximum(w.sum((1, 2)), 1))
        pol = mstep(task, x_train, s, y, w, alpha, prior)
        pols.append(pol)
        train.append(pass_rate(pol, task, x_train).mean(-1))
        test.append(pass_rate(pol, task, x_test).mean(-1))
    return History(np.array(train), np.array(test), np.array(kept), np.array(prec), np.array(sampled),
                   np.array(cot), pols)
