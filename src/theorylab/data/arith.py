r"""A two-step arithmetic task with chain-of-thought tokens, and verifiers with error rates.

A *problem* is a triple :math:`x = (a, b, c)` of digits in :math:`\{0, \dots, p-1\}`. A *solution* is
two tokens: the intermediate :math:`s = a + b \in \{0, \dots, 2p-2\}` (the chain of thought) and the
answer :math:`y = s + c \in \{0, \dots, 3p-3\}`. The reward is binary and checks the answer only, as
an outcome verifier does:

.. math:: r(x, (s, y)) = 1\{y = a + b + c\}.

A *noisy* verifier returns the wrong verdict with rates that do not depend on the problem: it accepts
a wrong answer with probability ``fpr`` (false positives) and rejects a right one with probability
``fnr`` (false negatives). A symmetric verifier that flips every verdict with probability
:math:`\varepsilon` has ``fpr = fnr = eps``.

Reference: Singh et al., *Beyond Human Data: Scaling Self-Training for Problem-Solving with Language
Models*, TMLR 2024 (arXiv 2312.06585), Section 3 (binary reward from answer checking). The toy task
is ours.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..runtime import require_float, require_int

__all__ = ["Task", "split", "solution", "reward", "verify", "flips"]


@dataclass(frozen=True)
class Task:
    """The task with digits below ``p``: S = 2p - 1 intermediate tokens, Y = 3p - 2 answer tokens."""

    p: int

    def __post_init__(self) -> None:
        require_int("p", self.p, minimum=2)

    @property
    def n_mid(self) -> int:
        """Number of intermediate tokens S (the values of a + b)."""
        return 2 * self.p - 1

    @property
    def n_answer(self) -> int:
        """Number of answer tokens Y (the values of a + b + c)."""
        return 3 * self.p - 2

    def problems(self) -> np.ndarray:
        """All p^3 problems as an (p^3, 3) integer array of rows (a, b, c), in lexicographic order."""
        g = np.arange(self.p)
        return np.stack(np.meshgrid(g, g, g, indexing="ij"), -1).reshape(-1, 3)


def split(task: Task, n_train: int, n_test: int, gen: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Disjoint random train and test problems, (n_train, 3) and (n_test, 3)."""
    n_all = task.p ** 3
    n_train = require_int("n_train", n_train, minimum=1)
    n_test = require_int("n_test", n_test, minimum=1)
    if n_train + n_test > n_all:
        raise ValueError(f"n_train + n_test must be at most p^3 = {n_all}; got {n_train + n_test}")
    order = gen.permutation(n_all)
    x = task.problems()
    return x[order[:n_train]], x[order[n_train:n_train + n_test]]


def solution(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The correct chain of thought and answer, (s, y) = (a + b, a + b + c), for problems x (..., 3)."""
    x = np.asarray(x)
    s = x[..., 0] + x[..., 1]
    return s, s + x[..., 2]


def reward(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The exact binary reward 1{y = a + b + c} (float), broadcasting x (..., 3) against y (...)."""
    return (np.asarray(y) == solution(x)[1]).astype(float)


def verify(x: np.ndarray, y: np.ndarray, gen: np.random.Generator, fpr: float = 0.0, fnr: float = 0.0) -> np.ndarray:
    """A noisy verifier's verdict (float 0/1): accepts a right answer w.p. 1 - fnr, a wrong one w.p. fpr.

    ``fpr`` and ``fnr`` may be arrays that broadcast against ``y`` (one rate per replica, say).
    With ``fpr = fnr = 0`` this is :func:`reward`.
    """
    fpr_a, fnr_a = np.asarray(fpr, float), np.asarray(fnr, float)
    if np.any((fpr_a < 0) | (fpr_a > 1)) or np.any((fnr_a < 0) | (fnr_a > 1)):
        raise ValueError("fpr and fnr must lie in [0, 1]")
    r = reward(x, y)
    u = gen.random(r.shape)
    return np.where(r > 0, u >= fnr_a, u < fpr_a).astype(float)


def flips(eps: float) -> tuple[float, float]:
    """The (fpr, fnr) of a verifier that flips every verdict with probability eps."""
    eps = require_float("eps", eps, low=0.0, high=1.0)
    return eps, eps
