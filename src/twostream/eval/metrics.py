"""Top-k accuracy and weighted score fusion."""

from __future__ import annotations

import numpy as np

Weights = tuple[float, float]  # RGB:flow fusion weights


def hits(scores: np.ndarray, labels: np.ndarray, k: int = 1) -> np.ndarray:
    """Per-video booleans: the label is among the ``k`` highest scores."""
    k = min(k, scores.shape[1])
    top = np.argsort(-scores, axis=1)[:, :k]
    return np.any(top == labels[:, None], axis=1)


def fuse(a: np.ndarray, b: np.ndarray, weights: Weights) -> np.ndarray:
    """Late fusion: the weighted sum of two streams' class scores (numpy arrays or torch tensors)."""
    return weights[0] * a + weights[1] * b


def ratio(weights: Weights) -> str:
    """(5.0, 1.0) -> ``"5:1"``."""
    return f"{weights[0]:g}:{weights[1]:g}"


def parse_ratio(text: str) -> Weights:
    """``"5:1"`` -> (5.0, 1.0)."""
    rgb, flow = text.split(":")
    return float(rgb), float(flow)
