"""The flow backend interface: many greyscale frame pairs in, raw flow out."""

from __future__ import annotations

import abc
from typing import Any

import numpy as np


class FlowBackend(abc.ABC):
    """Computes dense optical flow for a batch of frame pairs.

    ``compute(prev, nxt)`` takes two uint8 arrays of shape (N, H, W) (greyscale,
    0..255) and returns float32 flow of shape (N, H, W, 2) in pixels, (dx, dy),
    such that ``prev(x) ~ nxt(x + flow(x))``. Batching lets GPU backends process
    all pairs of a chunk at once; CPU backends may loop.
    """

    name: str

    @abc.abstractmethod
    def compute(self, prev: np.ndarray, nxt: np.ndarray) -> np.ndarray: ...

    @abc.abstractmethod
    def params(self) -> dict[str, Any]:
        """The algorithm parameters, JSON-serialisable, recorded in every shard."""

    def compute_quantized(self, prev: np.ndarray, nxt: np.ndarray, bound: float) -> np.ndarray:
        """``compute``'s flow as shards store it: (N, H, W, 2) uint8, ``quantize_flow(normalize(flow, bound))``
        (a GPU backend quantises on the device and copies a quarter of the bytes back)."""
        from twostream.data.shards import quantize_flow

        return quantize_flow(normalize(self.compute(prev, nxt), bound))


def check_pairs(prev: np.ndarray, nxt: np.ndarray) -> None:
    """Raise ValueError unless prev and nxt are matching (N, H, W) uint8 stacks."""
    if prev.shape != nxt.shape or prev.ndim != 3:
        raise ValueError(f"expected two (N, H, W) stacks of equal shape, got {prev.shape} and {nxt.shape}")
    if prev.dtype != np.uint8 or nxt.dtype != np.uint8:
        raise ValueError(f"expected uint8 greyscale frames, got {prev.dtype} and {nxt.dtype}")


def normalize(flow: np.ndarray, bound: float) -> np.ndarray:
    """Clip flow to [-bound, bound] and scale it to [-1, 1] (the two-stream convention)."""
    return np.clip(flow, -bound, bound, dtype=np.float32) / np.float32(bound)
