"""theorylab.runtime: parameter validation happens first and names the parameter."""

import os

import numpy as np
import pytest
import torch

from theorylab import runtime


def test_setup_picks_profile_sizes_and_one_thread():
    run = runtime.setup(profile="full", seed=3, device="cpu", fast=dict(n=10), full=dict(n=1000))
    assert (run.profile, run.seed, run.sizes.n) == ("full", 3, 1000)
    assert run.device == torch.device("cpu")
    assert torch.get_num_threads() == 1
    assert not run.fast


@pytest.mark.parametrize("kwargs, words", [
    (dict(profile="turbo"), ["profile", "'fast'", "'full'", "turbo"]),
    (dict(seed=-1), ["seed", ">= 0"]),
    (dict(seed=1.5), ["seed", "integer"]),
    (dict(seed=True), ["seed", "integer"]),
    (dict(device="tpu"), ["device", "'cpu'", "'cuda'", "'auto'"]),
])
def test_bad_standard_parameters_name_the_parameter_and_the_allowed_values(kwargs, words):
    with pytest.raises(ValueError) as err:
        runtime.setup(**kwargs)
    for word in words:
        assert word in str(err.value)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_a_gpu_says_so():
    with pytest.raises(ValueError, match="no CUDA device"):
        runtime.setup(device="cuda")
    assert runtime.setup(device="auto").device == torch.device("cpu")


def test_profiles_must_name_the_same_sizes():
    with pytest.raises(ValueError, match="same sizes"):
        runtime.setup(fast=dict(n=1), full=dict(m=2))


def test_require_helpers():
    assert runtime.require_int("n", np.int64(4), minimum=1) == 4
    assert runtime.require_float("beta", 1.5, low=1.0, low_open=True) == 1.5
    assert runtime.require_choice("kind", "a", ["a", "b"]) == "a"
    with pytest.raises(ValueError, match=r"n must be an integer in \[1, 3\]"):
        runtime.require_int("n", 4, minimum=1, maximum=3)
    with pytest.raises(ValueError, match="beta"):
        runtime.require_float("beta", 1.0, low=1.0, low_open=True)
    with pytest.raises(ValueError, match="beta"):
        runtime.require_float("beta", float("nan"))
    with pytest.raises(ValueError, match="kind must be one of 'a', 'b'"):
        runtime.require_choice("kind", "c", ["a", "b"])


def test_setup_limits_blas_and_openmp_threads(monkeypatch):
    from threadpoolctl import threadpool_info

    for var in runtime.THREAD_VARS:
        monkeypatch.delenv(var, raising=False)
    runtime.setup(fast=dict(n=1), full=dict(n=2))
    assert all(os.environ[var] == "1" for var in runtime.THREAD_VARS)
    pools = threadpool_info()
    assert pools, "numpy and torch load at least one BLAS or OpenMP pool"
    assert all(p["num_threads"] == 1 for p in pools), pools
    runtime.limit_threads(2)
    assert os.environ["OMP_NUM_THREADS"] == "2"
    runtime.limit_threads(1)


def test_progress_is_silent_in_the_build_and_shown_otherwise(monkeypatch, capsys):
    monkeypatch.delenv("THEORYLAB_QUIET", raising=False)
    monkeypatch.setenv("THEORYLAB_BUILD", "1")
    items = [1, 2, 3]
    assert runtime.quiet() and runtime.progress(items, desc="x") is items
    monkeypatch.setenv("THEORYLAB_QUIET", "0")
    bar = runtime.progress(items, desc="loop")
    assert list(bar) == items and bar is not items
    assert "loop" in capsys.readouterr().err
    monkeypatch.setenv("THEORYLAB_QUIET", "1")
    monkeypatch.delenv("THEORYLAB_BUILD")
    assert runtime.progress(items) is items


def test_require_prob_and_array():
    assert runtime.require_prob("p", 0.25) == 0.25
    for bad in (1.5, -0.1, float("nan"), True):
        with pytest.raises(ValueError, match=r"p must be a"):
            runtime.require_prob("p", bad)
    arr = runtime.require_array("m", [0.5, 2.0], low=0.0, low_open=True)
    assert arr.dtype == np.float64 and arr.tolist() == [0.5, 2.0]
    with pytest.raises(ValueError, match=r"m must hold finite real numbers in \(0.0, inf\]"):
        runtime.require_array("m", [1.0, 0.0], low=0.0, low_open=True)
    with pytest.raises(ValueError, match="q"):
        runtime.require_array("q", [0.2, float("inf")])
    with pytest.raises(ValueError, match="q"):
        runtime.require_array("q", ["a"])
