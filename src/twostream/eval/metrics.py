"""Top-k accuracy and weighted score fusion."""

from __future__ import annotations

import numpy as np


def hits(scores: np.ndarray, labels: np.ndarray, k: int = 1) -> np.ndarray:
    """Per-video booleans: the label is among the ``k`` highest scores."""
    k = min(k, scores.shape[1])
    top = np.argsort(-scores, axis=1)[:, :k]
    return np.any(top == labels[:, None], axis=1)


def topk(scores: np.ndarray, labels: np.ndarray, k: int = 1) -> float:
    """Top-k accuracy in percent."""
    return float(100.0 * np.mean(hits(scores, labels, k)))


def fuse(a: np.ndarray, b: np.ndarray, weights: tuple[float, float]) -> np.ndarray:
    """Weighted sum of two streams' scores."""
    return weights[0] * a + weights[1] * b
