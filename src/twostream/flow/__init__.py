"""Optical flow: backends behind one batched interface, clipping and .flo files.

Backends (``get_backend(name, device)``):

* ``torch``: dual TV-L1 in PyTorch, batched, on CPU or CUDA, following either OpenCV class
  (``variant``: ``cpu`` or ``cuda``; ``twostream.flow.tvl1``);
* ``opencv-cuda``: ``cv2.cuda.OpticalFlowDual_TVL1`` (needs an OpenCV built with CUDA);
* ``opencv-cpu``: ``cv2.optflow.DualTVL1OpticalFlow`` (opencv-contrib);
* ``auto``: ``torch`` on CUDA when torch sees a GPU; on CPU, ``torch`` where its C++ kernel
  (``twostream.flow.native``) builds or its iteration compiles, else ``opencv-cpu``.

Why ``auto`` prefers ``torch`` on CPU: on a CPU it computes in C++ (the same algorithm as
OpenCV's CPU class, each iteration one fused sweep, pairs in parallel), ~20x opencv-cpu's
pairs/s at 256x340 on this 2-core machine, at the same EPE (docs/flow.md has the runs of
``python benchmarks/flow.py --backends torch,opencv-cpu --pairs 16``). Without a C++ compiler
torch runs its iteration eagerly, far slower than opencv-cpu.
"""

from __future__ import annotations

from twostream.flow.base import FlowBackend, normalize
from twostream.gpus import check_device as _check_device
from twostream.gpus import resolve_device

BACKENDS = ("auto", "torch", "opencv-cuda", "opencv-cpu")


def get_backend(name: str = "auto", device: str | None = "auto", variant: str | None = None) -> FlowBackend:
    """Instantiate a flow backend by name (see the module docstring) on a device (auto, cpu, cuda, cuda:N);
    ``variant`` (cpu, cuda; ``flow.variant``): the OpenCV class the torch backend follows (``twostream.flow.tvl1``),
    needed where the backend is or may be ``torch``."""
    if name not in BACKENDS:
        raise ValueError(f"unknown flow backend {name!r}; choose from {', '.join(BACKENDS)}")
    device = _check_device(device)
    if name == "auto":
        name = "torch" if resolve_device(device) != "cpu" else _fastest_cpu_backend()
    if name == "opencv-cpu":
        if device not in ("auto", "cpu"):
            raise ValueError(f"backend opencv-cpu runs on the CPU only; got device {device!r}")
        from twostream.flow.opencv import OpenCVCPU

        return OpenCVCPU()
    if name == "opencv-cuda":  # OpenCV, not torch, owns this device: do not ask torch about it
        if device == "cpu":
            raise ValueError("backend opencv-cuda runs on CUDA only; got device 'cpu'")
        from twostream.flow.opencv import OpenCVCUDA

        return OpenCVCUDA(int(device.partition(":")[2] or 0))
    from twostream.flow.tvl1 import TorchTVL1

    if variant is None:
        raise ValueError("the torch flow backend needs a variant (flow.variant: cpu or cuda)")
    return TorchTVL1(resolve_device(device), variant=variant)


def _fastest_cpu_backend() -> str:
    """``torch`` where its C++ kernel builds or its iteration compiles (measured faster), else ``opencv-cpu``."""
    import torch

    from twostream.flow import native
    from twostream.flow.tvl1 import compile_available

    fast = native.library() is not None or compile_available(torch.device("cpu"))
    return "torch" if fast else "opencv-cpu"


__all__ = ["BACKENDS", "FlowBackend", "get_backend", "normalize", "resolve_device"]
