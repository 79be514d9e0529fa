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
        # calc() lowers the object's scale count for good after a small image (its pyramid stops at
        # 16 px); every pair starts again from the configured count.
        self._nscales = self._tvl1.getScalesNumber()

    def params(self) -> dict[str, Any]:
        t = self._tvl1
        return {
            "tau": t.getTau(),
            "lambda": t.getLambda(),
            "theta": t.getTheta(),
            "nscales": self._nscales,
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
            self._tvl1.setScalesNumber(self._nscales)
            out[i] = self._tvl1.calc(prev[i], nxt[i], None)
        return out


def opencv_cuda_unavailable() -> str | None:
    """Why OpenCV cannot run TV-L1 on CUDA here, or None if it can."""
    if cv2.cuda.getCudaEnabledDeviceCount() == 0:
        return f"OpenCV {cv2.__version__} sees no CUDA device (a build without CUDA, or no GPU)"
    if not hasattr(cv2.cuda, "OpticalFlowDual_TVL1"):
        return f"OpenCV {cv2.__version__} was built without the cudaoptflow module"
    return None


class OpenCVCUDA(FlowBackend):
    """``cv2.cuda.OpticalFlowDual_TVL1`` with its default parameters, one pair at a time."""

    name = "opencv-cuda"

    def __init__(self, device_index: int = 0) -> None:
        reason = opencv_cuda_unavailable()
        if reason:
            raise RuntimeError(f"backend opencv-cuda is unavailable: {reason}")
        cv2.cuda.setDevice(device_index)
        self.device_index = device_index
        self._tvl1 = cv2.cuda.OpticalFlowDual_TVL1.create()

    def params(self) -> dict[str, Any]:
        t = self._tvl1
        return {
            "tau": t.getTau(),
            "lambda": t.getLambda(),
            "theta": t.getTheta(),
            "nscales": t.getNumScales(),
            "warps": t.getNumWarps(),
            "epsilon": t.getEpsilon(),
            "iterations": t.getNumIterations(),
            "scale_step": t.getScaleStep(),
            "gamma": t.getGamma(),
            "opencv": cv2.__version__,
        }

    def compute(self, prev: np.ndarray, nxt: np.ndarray) -> np.ndarray:
        check_pairs(prev, nxt)
        out = np.empty(prev.shape + (2,), np.float32)
        g0, g1 = cv2.cuda.GpuMat(), cv2.cuda.GpuMat()
        for i in range(prev.shape[0]):
            g0.upload(prev[i])
            g1.upload(nxt[i])
            out[i] = self._tvl1.calc(g0, g1, None).download()
        return out
