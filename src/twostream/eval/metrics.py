"""Top-k accuracy and weighted score fusion."""

from __future__ import annotations

import numpy as np


def topk(scores: np.ndarray, labels: np.ndarray, k: int = 1) -> float:
    """Top-k accuracy in percent."""
    k = min(k, scores.shape[1])
    top = np.argsort(-scores, axis=1)[:, :k]
    return float(100.0 * np.mean(np.any(top == labels[:, None], axis=1)))


def fuse(a: np.ndarray, b: np.ndarray, weights: tuple[float, float]) -> np.ndarray:
    """Weighted sum of two streams' scores."""
    return weights[0] * a + weights[1] * b
