"""theorylab.structure.locality: the planted-chain generator (moments) and the balanced subset."""

import numpy as np
import pytest

from theorylab import rng
from theorylab.structure import locality


def test_chain_has_ar1_correlations_and_balanced_labels():
    x, y = locality.planted_chains(20000, 16, gen=rng.numpy(0, "ar"), ar=0.7, amplitude=0.0)
    c = np.corrcoef(x, rowvar=False)
    se = 1 / np.sqrt(20000)
    for lag in (1, 2, 3):
        assert abs(np.mean(np.diag(c, lag)) - 0.7 ** lag) < 5 * se
    assert abs(x.var() - 1) < 0.03
    assert (y == 1).sum() == (y == -1).sum() == 10000


def test_template_shifts_positives_only():
    gen = rng.numpy(1, "tpl")
    x, y = locality.planted_chains(4000, 8, gen=gen, amplitude=3.0, template=(1.0,) * 8)
    se = 1 / np.sqrt(2000)
    assert abs(x[y < 0].mean()) < 5 * se * 3  # chain mean, inflated by the AR correlation
    assert abs(x[y > 0].mean() - 3.0) < 5 * se * 3


def test_balanced_subset_and_bad_inputs():
    y = np.array([1, -1, 1, 1, -1, -1, 1.0])
    idx = locality.balanced_subset(y, 6)
    assert (y[idx] == 1).sum() == 3 and (y[idx] == -1).sum() == 3
    with pytest.raises(ValueError, match="m"):
        locality.balanced_subset(y, 8)
    with pytest.raises(ValueError, match="n_features"):
        locality.planted_chains(10, 3, gen=rng.numpy(0, "x"))
    with pytest.raises(ValueError, match="ar"):
        locality.planted_chains(10, 8, gen=rng.numpy(0, "x"), ar=1.0)


def test_scrambled_digits_rearrangement_lowers_qe():
    from dataclasses import replace

    cfg = replace(locality.ScrambledConfig(), n_train=400, n_entangle=64, cnn_epochs=1, cnn_width=4)
    df = locality.scrambled_digits_conditions([0], cfg, base_seed=0, log=lambda s: None)
    assert set(df.condition) == {"scrambled", "rearranged"}
    q = df.set_index("condition").qe
    assert q["rearranged"] < q["scrambled"]
    assert df.se[df.condition == "rearranged"].item() < df.se[df.condition == "scrambled"].item()
    assert df.cnn.between(0, 1).all() and df.cnn_train.between(0, 1).all()
