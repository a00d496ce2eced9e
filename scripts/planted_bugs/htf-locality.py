"""Planted bugs for the chapter `htf-locality`: which claim of the ledger catches each one.

Run: ``PYTHONPATH=src .venv/bin/python scripts/planted_bugs/htf-locality.py [name ...]``. Each bug
re-executes ``theorylab.structure.htf`` with one plausible typo (``_runner.source_patch``), runs the
chapter's code cells (fast profile, seed 0) under a time limit, and prints the claims that held
without the bug and fail with it. The exit status is 1 if a bug slips through.

Last run (3 December 2026, seed 0, fast profile, loaded two-core machine, about 100 s per bug; the
first six with the chapter as it was before ``law_gd_error``'s bound went from 0.05 to 0.1 and the
root-matricization identity was added, which no bug below depends on):

    balanced_exponent_order4     law_balanced_error, law_rival_ratio
    k_local_four                 law_balanced_error, law_rival_ratio
    exact_law_drops_own_vector   law_balanced_error, law_fd_error, law_gd_error
    loss_grad_missing_size       law_balanced_error, law_fd_error, law_gd_error, law_rival_ratio
    pooling_pairs_halves         contract_identity, law_fd_error, law_gd_error
    root_norm_without_output     law_fd_error, law_gd_error
    root_matricization_one_mode  root_matricization_identity (before that claim existed nothing caught
                                 it: the activation ratio stays above 1 on the wrong matricization)
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "scripts" / "planted_bugs")]

import _runner  # noqa: E402
from theorylab.nets import samedist  # noqa: E402
from theorylab.structure import htf  # noqa: E402

BUGS: dict[str, tuple[str, str]] = {
    # the balanced law with the exponent of an order-4 CP factorization
    "balanced_exponent_order4": ("sigma.pow(2.0 - 2.0 / K_LOCAL)", "sigma.pow(2.0 - 2.0 / 4)"),
    # a local component counted with four vectors (prefactor and exponent both change)
    "k_local_four": ("K_LOCAL = 3  #", "K_LOCAL = 4  #"),
    # the exact law forgets the node's own vector in the sum of inverse squared norms
    "exact_law_drops_own_vector": ("sum(x.pow(-2) for x in v)", "sum(x.pow(-2) for x in v[1:])"),
    # the loss gradient without the d^N / |Omega| normalisation's d^N
    "loss_grad_missing_size": ("return mask[0].numel() * mask * (w - tgt) / count", "return mask * (w - tgt) / count"),
    # pooling pairs non-adjacent nodes (first half with second half): a different tree
    "pooling_pairs_halves": ("left, right = phi[:, 0::2], phi[:, 1::2]",
                             "left, right = phi[:, : phi.shape[1] // 2], phi[:, phi.shape[1] // 2:]"),
    # the root's component norm leaves out the output scalar u_r
    "root_norm_without_output": ("own = params[-1].abs()", "own = torch.ones_like(params[-1])"),
    # root matricization taken as mode 1 against the rest
    "root_matricization_one_mode": ("w.reshape(*lead, d ** (order // 2), -1)", "w.reshape(*lead, d, -1)"),
}

# Referee's bugs (appended). Run 3 Dec 2026, seed 0: loss_without_half CAUGHT by law_fd_error, law_gd_error;
# keep_component_parent_axis CAUGHT by law_fd_error, law_gd_error. A third, the flow time counted as lr per
# step ("times.append(times[-1] + lr)"), was NOT caught and is left out: the 1% cap shortens only a few steps,
# so the flow time changes by under 1% and no measured quantity moves beyond its spread.
BUGS.update({
    # the completion loss without its 1/2: autograd's gradient is twice loss_grad's
    "loss_without_half": ("return 0.5 * size * (mask", "return size * (mask"),
    # an inner node's component r kept along the parent axis (column r) instead of the child axis (row r)
    "keep_component_parent_axis": ("keep[:, r, :] = 1.0", "keep[:, :, r] = 1.0"),
})

# Part (b), nets.samedist. Each of these three was planted and caught by tests/test_samedist.py
# (distances exact; regularizer against a second route; shuffle changes the patch). No chapter claim
# catches them: the only claim on part (b) is the sign of the accuracy drop with distance.
BUGS.update({
    # the gap between the digits one position short of the stated distance
    "samedist_distance_off_by_one": ("return left, left + DIGIT + distance", "return left, left + DIGIT + distance - 1"),
    # the regularizer's sign flipped: rewards an unchanged gradient (locality) instead of penalizing it
    "samedist_reg_sign_flipped": ("return cos.abs().mean(-1)", "return -cos.abs().mean(-1)"),
    # the shuffle leaves the other patch unchanged (the regularizer is then identically 1)
    "samedist_shuffle_noop": ("x[m, :, :, s:s + DIGIT].roll(-1, dims=0)", "x[m, :, :, s:s + DIGIT].roll(0, dims=0)"),
})

PRIVATE = {htf: ["_component_vectors", "_keep_component", "_check_order", "K_LOCAL"], samedist: ["_patch", "DIGIT"]}

if __name__ == "__main__":
    sys.exit(_runner.report_source_bugs("htf-locality", [htf, samedist], BUGS, sys.argv[1:], limit_s=600, private=PRIVATE))
