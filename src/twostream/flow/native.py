"""TV-L1 on a CPU in C++ (``tvl1_cpu.cpp``: the torch backend's algorithm, each iteration one fused sweep),
built once per machine with the system's C++ compiler.

The library is compiled with ``-O3 -march=native -fopenmp`` into ``compile_cache()`` (named by
a hash of the source, the flags and the CPU's feature flags, so a shared home on machines
with different CPUs builds one per kind) and loaded through ctypes; a second process reuses
it. ``library()`` is None where no compiler works, and ``TorchTVL1`` then computes in torch.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
import warnings
from dataclasses import astuple, dataclass
from pathlib import Path

import numpy as np
import torch

SOURCE = Path(__file__).with_name("tvl1_cpu.cpp")
FLAGS = ["-O3", "-march=native", "-fno-math-errno", "-fopenmp", "-shared", "-fPIC", "-std=c++17"]


def _cpu_flags() -> str:
    """The CPU's feature flags (what -march=native compiles for), or the machine name where unreadable."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                return line
    except OSError:
        pass
    return platform.machine() + platform.processor()


def _library_path(cache: Path) -> Path:
    key = hashlib.sha256(SOURCE.read_bytes() + " ".join(FLAGS).encode() + _cpu_flags().encode()).hexdigest()
    return cache / f"twostream_tvl1_{key[:16]}.so"


def _build(target: Path) -> None:
    """Compile the library to ``target`` atomically (a temporary name, then a rename)."""
    compiler = os.environ.get("CXX") or shutil.which("g++") or shutil.which("c++")
    if not compiler:
        raise RuntimeError("no C++ compiler (g++ or c++) on PATH")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        out = Path(tmp) / target.name
        done = subprocess.run([compiler, *FLAGS, str(SOURCE), "-o", str(out)], capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f"{compiler} failed on {SOURCE.name}: {done.stderr.strip()[-1000:]}")
        os.replace(out, target)


def compile_cache() -> Path:
    """Where compiled code is kept between processes (this library, and torch.compile's kernels of
    ``twostream.flow.tvl1``): TORCHINDUCTOR_CACHE_DIR, else ~/.cache/twostream/inductor (torch's own default
    is under /tmp, which many clusters clear between jobs)."""
    return Path(os.environ.get("TORCHINDUCTOR_CACHE_DIR") or Path.home() / ".cache" / "twostream" / "inductor")


@dataclass(frozen=True)
class Params:
    """What the library's ``tvl1_flow`` takes besides the frames (``TorchTVL1.native_params`` fills it)."""

    tau: float
    lambda_: float
    theta: float
    nscales: int
    warps: int
    epsilon: float
    scale_step: float
    iterations: int  # per warp (the cpu variant's inner x outer)
    median_every: int  # the cpu variant's median filter period, in iterations (0: none)
    cuda_variant: bool
    centred_resize: bool
    zero_border: bool
    cubic_a: float


@functools.cache
def library() -> ctypes.CDLL | None:
    """The loaded library, built on first use; None (with a warning) where it cannot be built or loaded."""
    path = _library_path(compile_cache())
    try:
        if not path.exists():
            _build(path)
        lib = ctypes.CDLL(str(path))
    except (OSError, RuntimeError) as exc:
        warnings.warn(f"C++ TV-L1 unavailable, computing flow in torch: {exc}", stacklevel=2)
        return None
    lib.tvl1_flow.argtypes = [ctypes.c_int] * 3 + [ctypes.c_void_p] * 3 + [ctypes.c_float] * 3 + [
        ctypes.c_int, ctypes.c_int, ctypes.c_double, ctypes.c_double] + [ctypes.c_int] * 5 + [
        ctypes.c_float, ctypes.c_int, ctypes.POINTER(ctypes.c_long)]
    lib.tvl1_median5.argtypes = [ctypes.c_int] * 3 + [ctypes.c_void_p]
    return lib


def flow_arrays(prev: np.ndarray, nxt: np.ndarray, params: Params) -> tuple[np.ndarray, list[int]]:
    """Flow (N, 2, H, W) float32 of frames (N, H, W) in 0..255 with ``params``, and the
    pixel-iterations (pixels times iterations, summed over levels and warps) each pair ran."""
    i0, i1 = (np.ascontiguousarray(f, dtype=np.float32) for f in (prev, nxt))
    n, h, w = i0.shape
    out = np.empty((n, 2, h, w), np.float32)
    counts = (ctypes.c_long * n)()
    values = [int(v) if isinstance(v, bool) else v for v in astuple(params)]
    library().tvl1_flow(n, h, w, i0.ctypes.data, i1.ctypes.data, out.ctypes.data, *values,
                        torch.get_num_threads(), counts)
    return out, list(counts)


def median5(planes: np.ndarray) -> np.ndarray:
    """5x5 median (replicated border) of (N, H, W) planes, by the library (a new float32 array)."""
    out = np.array(planes, dtype=np.float32, order="C")
    library().tvl1_median5(*out.shape, out.ctypes.data)
    return out
