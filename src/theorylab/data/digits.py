"""The 8 x 8 handwritten digits that scikit-learn ships: the book's one real data set.

It travels inside the scikit-learn package (no download). Read here from the bundled CSV without
importing scikit-learn, whose import (with SciPy) costs about a second of a chapter's run; falls back
to ``sklearn.datasets.load_digits`` if the file has moved.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

N_IMAGES, N_PIXELS, N_CLASSES = 1797, 64, 10


def load() -> tuple[np.ndarray, np.ndarray]:
    """(images (1797, 64) with pixels in [0, 1], labels (1797,) in 0..9), in scikit-learn's order."""
    spec = importlib.util.find_spec("sklearn")
    path = Path(spec.submodule_search_locations[0], "datasets", "data", "digits.csv.gz") if spec else None
    if path is not None and path.exists():
        data = np.loadtxt(path, delimiter=",")
        return data[:, :-1] / 16.0, data[:, -1].astype(np.int64)
    from sklearn.datasets import load_digits as sklearn_digits

    digits = sklearn_digits()
    return digits.data / 16.0, digits.target.astype(np.int64)
