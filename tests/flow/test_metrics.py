"""End-point error."""

from __future__ import annotations

import numpy as np
import pytest

from twostream.flow.metrics import epe


def test_epe_is_the_mean_vector_distance():
    ref = np.zeros((2, 2, 2), np.float32)
    flow = np.array([[[3, 4], [0, 0]], [[0, 1], [0, 0]]], np.float32)  # distances 5, 0, 1, 0
    assert epe(flow, ref) == pytest.approx(1.5)


def test_epe_rejects_mismatched_fields():
    with pytest.raises(ValueError, match=r"equal shape, got \(2, 2, 2\) and \(2, 3, 2\)"):
        epe(np.zeros((2, 2, 2)), np.zeros((2, 3, 2)))
