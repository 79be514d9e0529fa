"""Flow accuracy: end-point error."""

from __future__ import annotations

import numpy as np


def epe(flow: np.ndarray, ref: np.ndarray) -> float:
    """Average end-point error: the mean Euclidean distance between (..., 2) flow vectors."""
    if flow.shape != ref.shape or flow.shape[-1] != 2:
        raise ValueError(f"expected two (..., 2) flows of equal shape, got {flow.shape} and {ref.shape}")
    return float(np.linalg.norm(flow.astype(np.float64) - ref, axis=-1).mean())
