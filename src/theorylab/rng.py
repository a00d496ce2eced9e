"""The one place where seeds become random generators.

A stream is named by the chapter's base seed and a few keys (strings or integers), so that adding a
new stream never shifts the numbers of an existing one::

    gen = rng.numpy(run.seed, "teacher", 3)
    tgen = rng.torch(run.seed, "init", depth)
"""

from __future__ import annotations

import hashlib

import numpy as np

from .runtime import require_int


def _key_words(key: int | str) -> list[int]:
    if isinstance(key, (bool, float)) or not isinstance(key, (int, str, np.integer)):
        raise ValueError(f"keys must be strings or integers; got {key!r}")
    if isinstance(key, str):
        digest = hashlib.sha256(key.encode()).digest()
        return [int.from_bytes(digest[i:i + 4], "little") for i in range(0, 16, 4)]
    key = int(key)
    if key < 0:
        raise ValueError(f"integer keys must be >= 0; got {key}")
    return [key & 0xFFFFFFFF, key >> 32]


def sequence(seed: int, *keys: int | str) -> np.random.SeedSequence:
    """The ``SeedSequence`` of the stream named by ``seed`` and ``keys``."""
    seed = require_int("seed", seed, minimum=0)
    entropy = [seed]
    for key in keys:
        entropy += [0xA5A5A5A5] + _key_words(key)  # separator keeps ("a", 1) apart from ("a1",)
    return np.random.SeedSequence(entropy)


def derive(seed: int, *keys: int | str) -> int:
    """A 63-bit integer seed for the stream (for APIs that want an int, e.g. ``torch.manual_seed``)."""
    words = sequence(seed, *keys).generate_state(2, dtype=np.uint32)
    return int((int(words[0]) << 31) ^ int(words[1])) & ((1 << 63) - 1)


def numpy(seed: int, *keys: int | str) -> np.random.Generator:
    """A fresh ``np.random.Generator`` (PCG64) for the stream."""
    return np.random.default_rng(sequence(seed, *keys))


def torch(seed: int, *keys: int | str, device: str = "cpu"):
    """A fresh ``torch.Generator`` on ``device`` for the stream."""
    import torch as _torch

    gen = _torch.Generator(device=device)
    gen.manual_seed(derive(seed, *keys))
    return gen
