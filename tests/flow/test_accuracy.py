"""Accuracy against FlyingChairs ground truth: torch TV-L1 must match OpenCV's (CPU) TV-L1.

Reference measured by the project: OpenCV CPU defaults, 256x340, nine pairs: EPE 3.66 px
(zero flow 10.51 px). Here: the five pairs in the shared test data, at full size
(512x384) and at 256x340. Each backend computes all pairs of a size in one call, once.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

from twostream.flow import get_backend
from twostream.flow.metrics import epe

SIZES = ("256x340", "full")


@pytest.fixture(scope="module")
def flows(chairs):
    """``flows(backend, size)``: the flow of all pairs of a size, computed on first use."""

    @functools.cache
    def compute(backend: str, size: str) -> np.ndarray:
        prev, nxt, _ = chairs[size]
        return get_backend(backend, "cpu").compute(prev, nxt)

    return compute


@pytest.mark.parametrize("size", SIZES)
def test_torch_epe_is_within_5_percent_of_opencv_cpu(chairs, flows, size):
    gt = chairs[size][2]
    torch_epe, opencv_epe = epe(flows("torch", size), gt), epe(flows("opencv-cpu", size), gt)
    between = epe(flows("torch", size), flows("opencv-cpu", size))
    zero = epe(np.zeros_like(gt), gt)
    print(
        f"\n{size}: EPE vs ground truth: torch {torch_epe:.3f} px, opencv-cpu {opencv_epe:.3f} px, "
        f"zero flow {zero:.3f} px; torch vs opencv-cpu {between:.3f} px"
    )
    assert abs(torch_epe - opencv_epe) <= 0.05 * opencv_epe
    assert torch_epe < 0.75 * zero
    assert (
        between < 0.2 * zero
    )  # the two agree far more closely than either does with the truth of moved chairs
