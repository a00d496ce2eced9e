"""Planted bugs for the chapter rest-em: plausible slips in the task, the E-step, the M-step, the EM map in
expectation, the precision formula and the EM bound; the chapter's claims must catch every one. Each bug
edits one line of `theorylab.optim.restem` or `theorylab.data.arith` (source_patch), then the chapter runs
(fast profile, base seed 0) under a time limit. Run:

    PYTHONPATH=src .venv/bin/python scripts/planted_bugs/rest-em.py [bug name ...]

Last run (3 December 2026, seed 0, fast profile, loaded two-core machine; 7-14 s per bug). Every bug is caught:

    precision: fpr and fnr swapped           precision_max_z (only the asymmetric verifier can see it)
    precision: missing (1 - A)               precision_max_z
    verifier: right answers kept w.p. fnr    kept_all_right, gain_*, precision_max_z and 8 more
    reward: compares with s, not y           elbo_tight, elbo_slack_min, gain_*, precision_max_z and 7 more
    M-step: prior uniform, not the base      asymmetric_change, coin_verifier_change, plateau_exact
    loop: refit from the previous policy     plateau_exact (the runs overshoot the EM map's fixed point)
    loop: no filter                          gain_*, mean_field_first, beats_* and 5 more
    sample: teacher-forced answer            precision_max_z, mean_field_first, gain_* and 7 more
    pass rate: right chain of thought only   elbo_tight, elbo_slack_min, precision_max_z
    expected step: no factor K               mean_field_first
    expected step: fnr for wrong answers     mean_field_first
    posterior: reward missing                elbo_tight
    elbo: + log q                            elbo_tight

Referee's bugs (3 December 2026, same setting):

    split: test set drawn from the pool      test_disjoint (no other claim: the EM map's pool-test gap is then 0 too)
    M-step: answer step at the true chain of thought   coin_verifier_change, mean_field_first
    expected step: first step unfiltered     mean_field_first, plateau_exact
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _runner import report_source_bugs  # noqa: E402

from theorylab.data import arith  # noqa: E402
from theorylab.optim import restem  # noqa: E402

BUGS = {
    # eq-re-precision: the two error rates swapped (invisible for symmetric flips; the asymmetric verifier sees it)
    "precision: fpr and fnr swapped": ("tp = (1 - np.asarray(fnr, float)) * a", "tp = (1 - np.asarray(fpr, float)) * a"),
    # eq-re-precision: the wrong answers kept without the factor (1 - A)
    "precision: missing (1 - A)": ("tp + np.asarray(fpr, float) * (1 - a)", "tp + np.asarray(fpr, float)"),
    # the verifier keeps right answers with probability fnr instead of 1 - fnr
    "verifier: right answers kept w.p. fnr": ("np.where(r > 0, u >= fnr_a, u < fpr_a)", "np.where(r > 0, u < fnr_a, u < fpr_a)"),
    # the reward checks the chain of thought's sum a + b instead of the answer a + b + c
    "reward: compares with s, not y": ("(np.asarray(y) == solution(x)[1])", "(np.asarray(y) == solution(x)[0])"),
    # eq-re-mstep: the prior mass spread uniformly, not centred at the base
    "M-step: prior uniform, not the base": ("(alpha * p0 + counts) / np.maximum(alpha + total, 1e-300)",
                                           "(alpha / counts.shape[-1] + counts) / np.maximum(alpha + total, 1e-300)"),
    # the loop refits from the previous policy instead of the base (ReST, not ReST-EM)
    "loop: refit from the previous policy": ("pol = mstep(task, x_train, s, y, w, alpha, prior)",
                                             "pol = mstep(task, x_train, s, y, w, alpha, pol)"),
    # the loop trains on all samples, ignoring the verifier's verdict (no E-step)
    "loop: no filter": ("pol = mstep(task, x_train, s, y, w, alpha, prior)",
                        "pol = mstep(task, x_train, s, y, np.ones_like(w), alpha, prior)"),
    # sampling: the answer drawn given the true chain of thought (teacher forcing) instead of the sampled one
    "sample: teacher-forced answer": ("return s, _draw(_rows(pol.t2, s, xk[..., 2]), gen)",
                                      "return s, _draw(_rows(pol.t2, xk[..., 0] + xk[..., 1], xk[..., 2]), gen)"),
    # the pass rate counts only solutions with a right chain of thought (drops cancelling errors)
    "pass rate: right chain of thought only": ("return (p1 * p_right).sum(-1)",
                                               "return (p1 * p_right * (np.arange(task.n_mid) == x[..., :1] + x[..., 1:2])).sum(-1)"),
    # the EM map in expectation forgets the K samples per problem
    "expected step: no factor K": ("w2 = (k * p1[..., None] * p2 * accept)[0]", "w2 = (p1[..., None] * p2 * accept)[0]"),
    # the EM map in expectation: wrong answers accepted at the false-negative rate
    "expected step: fnr for wrong answers": ("accept = right * (1 - fnr_a[j]) + (1 - right) * fpr_a[j]",
                                             "accept = right * (1 - fnr_a[j]) + (1 - right) * fnr_a[j]"),
    # the E-step posterior without the reward (q = p)
    "posterior: reward missing": ("joint = _joint(pol, task, x) * arith.reward(", "joint = _joint(pol, task, x) + 0 * arith.reward("),
    # the EM bound with the entropy term's sign flipped
    "elbo: + log q": ("q * (np.log(r * joint) - np.log(q))", "q * (np.log(r * joint) + np.log(q))"),
    # (referee) the test problems taken from the start of the permutation: the test set is the pool
    "split: test set drawn from the pool": ("return x[order[:n_train]], x[order[n_train:n_train + n_test]]",
                                           "return x[order[:n_train]], x[order[:n_test]]"),
    # (referee) the M-step fits the answer step at the true chain of thought, not the sampled one
    "M-step: answer step at the true chain of thought": ("r, s, xk[..., 2], y, w)", "r, xk[..., 0] + xk[..., 1], xk[..., 2], y, w)"),
    # (referee) the EM map in expectation: the first step's counts forget the verifier
    "expected step: first step unfiltered": ("(xj[0, :, 0:1], xj[0, :, 1:2], s), w2.sum(-1))",
                                            "(xj[0, :, 0:1], xj[0, :, 1:2], s), k * p1[0])"),
}

if __name__ == "__main__":
    sys.exit(report_source_bugs("rest-em", [restem, arith], BUGS, sys.argv[1:], limit_s=300))
