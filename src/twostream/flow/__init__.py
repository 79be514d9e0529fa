"""Optical flow: backends behind one batched interface, clipping and .flo files.

Backends (``get_backend(name, device)``):

* ``torch``: dual TV-L1 in PyTorch, batched, on CPU or CUDA (``twostream.flow.tvl1``);
* ``opencv-cuda``: ``cv2.cuda.OpticalFlowDual_TVL1`` (needs an OpenCV built with CUDA);
* ``opencv-cpu``: ``cv2.optflow.DualTVL1OpticalFlow`` (opencv-contrib);
* ``auto``: ``torch`` on CUDA when torch sees a GPU; on CPU, ``torch`` where its iteration
  can be compiled, else ``opencv-cpu``.

Why ``auto`` prefers ``torch`` on CPU: ``python benchmarks/flow.py --pairs 32`` (256x340,
frames of the test clips; 2 cores shared with other jobs, load average 5-7, so noisy):

* 2 threads, ``OMP_DYNAMIC=true``: torch 0.83 pairs/s, opencv-cpu 0.38 pairs/s;
* 1 thread each: torch 0.44 pairs/s, opencv-cpu 0.30 pairs/s;
* 2 threads, lightly loaded (earlier run on FlyingChairs pairs): torch 0.66 s/pair,
  opencv-cpu 2.4 s/pair;

at the same EPE against ground truth (tests/flow/test_accuracy.py). Without a C++
compiler torch runs its iteration eagerly at ~4 s/pair, slower than opencv-cpu.
Caveat: torch's compiled loops are OpenMP loops with a static split; on cores that
other processes keep busy they stall (2 threads, load 7: 0.11 pairs/s) unless
``OMP_DYNAMIC=true`` lets OpenMP use fewer threads.
"""

from __future__ import annotations

import re

from twostream.flow.base import FlowBackend, normalize

BACKENDS = ("auto", "torch", "opencv-cuda", "opencv-cpu")
_DEVICE = re.compile(r"auto|cpu|cuda(:\d+)?")


def _check_device(device: str | None) -> str:
    device = device or "auto"
    if not _DEVICE.fullmatch(device):
        raise ValueError(f"unknown device {device!r}; use auto, cpu, cuda or cuda:N")
    return device


def resolve_device(device: str | None) -> str:
    """``cpu`` or ``cuda:N`` for a device name; ``auto`` (or None) picks CUDA when torch sees a GPU."""
    import torch

    device = _check_device(device)
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu":
        return device
    index = int(device.partition(":")[2] or 0)
    if index >= torch.cuda.device_count():
        raise ValueError(
            f"device {device!r} requested but torch sees {torch.cuda.device_count()} CUDA device(s)"
        )
    return f"cuda:{index}"


def get_backend(name: str = "auto", device: str | None = "auto") -> FlowBackend:
    """Instantiate a flow backend by name (see the module docstring) on a device (auto, cpu, cuda, cuda:N)."""
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

    return TorchTVL1(resolve_device(device))


def _fastest_cpu_backend() -> str:
    """``torch`` where its iteration compiles (measured faster), else ``opencv-cpu`` (faster than eager torch)."""
    import torch

    from twostream.flow.tvl1 import compile_available

    return "torch" if compile_available(torch.device("cpu")) else "opencv-cpu"


__all__ = ["BACKENDS", "FlowBackend", "get_backend", "normalize", "resolve_device"]
