"""TSN snippet sampling: which frame starts each segment's snippet.

A video of T frames has T-1 flow fields; a snippet at position s is RGB frame s and
flow fields [s, s+L). Positions 0..n-1 with n = max(T - L, 1) keep the whole stack
inside the video; a video shorter than one stack (T < L+1) uses position 0 and
repeats its last flow field (see ``Shard.flow``).
"""

from __future__ import annotations

import numpy as np


def positions(frames: int, length: int) -> int:
    """Number of valid snippet start positions for a video of ``frames`` frames."""
    return max(frames - length, 1)


def train_offsets(n: int, segments: int, rng: np.random.Generator) -> np.ndarray:
    """One random position inside each of ``segments`` equal parts of [0, n)."""
    bounds = np.floor(np.linspace(0, n, segments + 1)).astype(np.int64)
    widths = np.maximum(bounds[1:] - bounds[:-1], 1)
    return np.minimum(bounds[:-1] + rng.integers(0, widths), n - 1)


def eval_offsets(n: int, segments: int) -> np.ndarray:
    """The centre of each of ``segments`` equal parts of [0, n) (TSN's test protocol)."""
    return np.minimum(np.floor((np.arange(segments) + 0.5) * n / segments).astype(np.int64), n - 1)
