"""Optical flow: backends behind one batched interface, clipping and .flo files.

Backends (``get_backend(name, device)``):

* ``torch``: dual TV-L1 in PyTorch, batched, on CPU or CUDA, following either OpenCV class
  (``variant``: ``cpu`` or ``cuda``; ``twostream.flow.tvl1``);
* ``opencv-cuda``: ``cv2.cuda.OpticalFlowDual_TVL1`` (needs an OpenCV built with CUDA);
* ``opencv-cpu``: ``cv2.optflow.DualTVL1OpticalFlow`` (opencv-contrib);
* ``auto``: ``torch`` on CUDA when torch sees a GPU; on CPU, ``torch`` where its iteration
  can be compiled, else ``opencv-cpu``.

Why ``auto`` prefers ``torch`` on CPU: ``python benchmarks/flow.py --pairs 32`` (256x340,
32 pairs of test-clip frames, EPE torch vs opencv-cpu 0.43 px mean, 0.08 px median pair;
2 cores that other jobs kept busy, load average 3-7, so timings are noisy), pairs/s:

* 2 threads, ``OMP_DYNAMIC=true`` (load 5): torch 0.83, opencv-cpu 0.38;
* 1 thread each (load 6-7): torch 0.44, opencv-cpu 0.30;
* 2 threads, default OpenMP (load 3.5-7): torch 0.11 to 0.59, opencv-cpu 0.38 to 0.45;
* 2 threads, lightly loaded (FlyingChairs pairs, load ~1.5): torch 1.5, opencv-cpu 0.42.

Both reach the same EPE against ground truth (tests/flow/test_accuracy.py). Without a C++
compiler torch runs its iteration eagerly, ~2.5-6x slower, below opencv-cpu. Caveat: the
compiled loops are OpenMP loops split statically between threads; when other processes
hold the cores, each loop waits for its slowest thread and torch falls behind opencv-cpu
(whose thread pool shares work dynamically). ``OMP_DYNAMIC=true`` in the environment, or
one torch thread per core a job owns, avoids that.
"""

from __future__ import annotations

from twostream.flow.base import FlowBackend, normalize
from twostream.gpus import check_device as _check_device
from twostream.gpus import resolve_device

BACKENDS = ("auto", "torch", "opencv-cuda", "opencv-cpu")


def get_backend(name: str = "auto", device: str | None = "auto", variant: str = "cpu") -> FlowBackend:
    """Instantiate a flow backend by name (see the module docstring) on a device (auto, cpu, cuda, cuda:N);
    ``variant`` (cpu, cuda): the OpenCV class the torch backend follows (``twostream.flow.tvl1``)."""
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

    return TorchTVL1(resolve_device(device), variant=variant)


def _fastest_cpu_backend() -> str:
    """``torch`` where its iteration compiles (measured faster), else ``opencv-cpu`` (faster than eager torch)."""
    import torch

    from twostream.flow.tvl1 import compile_available

    return "torch" if compile_available(torch.device("cpu")) else "opencv-cpu"


__all__ = ["BACKENDS", "FlowBackend", "get_backend", "normalize", "resolve_device"]
