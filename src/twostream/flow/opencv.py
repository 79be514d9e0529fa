"""OpenCV TV-L1 backends: CPU (opencv-contrib) and CUDA (a CUDA build of OpenCV)."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from twostream.flow.base import FlowBackend, check_pairs


class OpenCVCPU(FlowBackend):
    """``cv2.optflow.DualTVL1OpticalFlow`` with OpenCV's default parameters."""

    name = "opencv-cpu"

    def __init__(self) -> None:
        self._tvl1 = cv2.optflow.DualTVL1OpticalFlow_create()

    def params(self) -> dict[str, Any]:
        t = self._tvl1
        return {
            "tau": t.getTau(),
            "lambda": t.getLambda(),
            "theta": t.getTheta(),
            "nscales": t.getScalesNumber(),
            "warps": t.getWarpingsNumber(),
            "epsilon": t.getEpsilon(),
            "inner_iterations": t.getInnerIterations(),
            "outer_iterations": t.getOuterIterations(),
            "scale_step": t.getScaleStep(),
            "gamma": t.getGamma(),
            "median_filtering": t.getMedianFiltering(),
            "opencv": cv2.__version__,
        }

    def compute(self, prev: np.ndarray, nxt: np.ndarray) -> np.ndarray:
        check_pairs(prev, nxt)
        out = np.empty(prev.shape + (2,), np.float32)
        for i in range(prev.shape[0]):
            out[i] = self._tvl1.calc(prev[i], nxt[i], None)
        return out
