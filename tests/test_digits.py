"""theorylab.data.digits: the bundled CSV read directly equals scikit-learn's own loader."""

import numpy as np

from theorylab.data import digits


def test_load_matches_sklearn():
    from sklearn.datasets import load_digits

    x, y = digits.load()
    ref = load_digits()
    assert x.shape == (digits.N_IMAGES, digits.N_PIXELS) and y.shape == (digits.N_IMAGES,)
    np.testing.assert_array_equal(x, ref.data / 16.0)
    np.testing.assert_array_equal(y, ref.target)
    assert x.min() == 0.0 and x.max() == 1.0 and set(np.unique(y)) == set(range(digits.N_CLASSES))
