"""Warm kernels: forked from one zygote per run, each in the clean post-import state, nothing shared.

A tiny synthetic book (see test_faults) is calibrated over three seeds, so the build forks three
kernels from one zygote that has imported numpy and torch. Each execution checks that it sees none
of the state the others leave behind, that it drew fresh entropy where a cold interpreter does, and
that torch runs on one thread. The suite's determinism re-run (test_book)
runs a real chapter cold and compares it with the warm run bit for bit.
"""

from __future__ import annotations

import json
import subprocess
import sys

from test_faults import env, write_book

LEAKS = """import random, sys
import numpy as np
import torch
probe = {"pid": os.getpid(), "ppid": os.getppid(), "pgid": os.getpgid(0), "cwd": os.getcwd(),
         "leaked": [hasattr(np, "_leak"), "leaky_module" in sys.modules, hasattr(torch, "_leak"),
                    "leftover" in globals()],
         "torch_seed": torch.initial_seed(), "threads": torch.get_num_threads(),
         "draws": [random.random(), float(np.random.rand())]}
np._leak = torch._leak = True
sys.modules["leaky_module"] = sys
leftover = 1
torch.manual_seed(seed)
pathlib.Path(f"probe-{seed}.json").write_text(json.dumps(probe))"""


def test_warm_kernels_start_clean_and_share_nothing(tmp_path):
    root = write_book(tmp_path, {"probe": ["import json", LEAKS]})
    proc = subprocess.run([sys.executable, "-m", "theorylab", "calibrate", "--only", "probe", "--seeds", "0-2",
                           "--jobs", "2", "--no-write"], env=env(root), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    probes = [json.loads((root / "notebooks" / f"probe-{s}.json").read_text()) for s in range(3)]
    records = [json.loads((root / "book" / "_build" / "cache" / "probe" / f"fast-cpu-seed{s}.json").read_text())
               for s in range(3)]
    assert [r["kernel"] for r in records] == ["warm"] * 3
    # three processes, forked from one zygote (not the build), each leading its own process group
    assert len({p["pid"] for p in probes}) == 3 and len({p["ppid"] for p in probes}) == 1
    assert all(p["pgid"] == p["pid"] for p in probes)
    assert all(p["cwd"] == str(root / "notebooks") for p in probes)
    # nothing one execution did is seen by another
    assert all(p["leaked"] == [False] * 4 for p in probes), probes
    # one torch thread; fresh entropy, as a cold interpreter draws, for random, numpy and torch
    assert all(p["threads"] == 1 for p in probes)
    assert len({tuple(p["draws"]) for p in probes}) == 3 and len({p["torch_seed"] for p in probes}) == 3


def test_a_cold_run_alone_needs_no_zygote(tmp_path, monkeypatch):
    """THEORYLAB_WARM=0 starts every kernel cold; a single execution never waits for a zygote."""
    root = write_book(tmp_path, {"a": [], "b": []})
    e = {**env(root), "THEORYLAB_WARM": "0"}
    proc = subprocess.run([sys.executable, "-m", "theorylab", "build", "--no-html", "--jobs", "2"], env=e,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads((root / "book" / "_build" / "reproducibility.json").read_text())
    assert [r["kernel"] for r in report["chapters"]] == ["cold", "cold"]
    one = subprocess.run([sys.executable, "-m", "theorylab", "build", "--no-html", "--only", "a", "--force"],
                         env=env(root), capture_output=True, text=True, timeout=120)
    assert one.returncode == 0, one.stdout + one.stderr
    report = json.loads((root / "book" / "_build" / "reproducibility.json").read_text())
    assert report["chapters"][0]["kernel"] == "cold"
