"""theorylab.rng: named streams are reproducible and independent."""

import numpy as np
import pytest
import torch

from theorylab import rng


def test_same_name_same_stream_and_different_names_differ():
    a = rng.numpy(0, "teacher", 1).standard_normal(5)
    assert np.array_equal(a, rng.numpy(0, "teacher", 1).standard_normal(5))
    for other in (rng.numpy(1, "teacher", 1), rng.numpy(0, "teacher", 2), rng.numpy(0, "student", 1)):
        assert not np.allclose(a, other.standard_normal(5))


def test_keys_do_not_collide_by_concatenation():
    assert rng.derive(0, "a", 1) != rng.derive(0, "a1")
    assert rng.derive(0, 1, 2) != rng.derive(0, 12)


def test_torch_generator_is_reproducible():
    x = torch.randn(4, generator=rng.torch(5, "init"))
    assert torch.equal(x, torch.randn(4, generator=rng.torch(5, "init")))
    assert 0 <= rng.derive(5, "init") < 2 ** 63


@pytest.mark.parametrize("seed, key", [(-1, "a"), (0, 1.5), (0, -3)])
def test_bad_seeds_and_keys(seed, key):
    with pytest.raises(ValueError):
        rng.numpy(seed, key)
