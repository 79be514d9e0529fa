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
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

if TYPE_CHECKING:
    from twostream.flow.tvl1 import TorchTVL1

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


@functools.cache
def library() -> ctypes.CDLL | None:
    """The loaded library, built on first use; None (with a warning) where it cannot be built or loaded."""
    from twostream.flow.tvl1 import compile_cache

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


def flow_arrays(prev: np.ndarray, nxt: np.ndarray, backend: TorchTVL1) -> tuple[np.ndarray, list[int]]:
    """Flow (N, 2, H, W) float32 of frames (N, H, W) in 0..255 as ``backend`` computes it, and the
    pixel-iterations (pixels times iterations, summed over levels and warps) each pair ran."""
    i0, i1 = (np.ascontiguousarray(f, dtype=np.float32) for f in (prev, nxt))
    n, h, w = i0.shape
    out = np.empty((n, 2, h, w), np.float32)
    total, median_every = backend._schedule()
    scheme, counts = backend.scheme, (ctypes.c_long * n)()
    library().tvl1_flow(n, h, w, i0.ctypes.data, i1.ctypes.data, out.ctypes.data, backend.tau, backend.lambda_,
                        backend.theta, backend.nscales, backend.warps, backend.epsilon, backend.scale_step, total,
                        median_every, int(backend.variant == "cuda"), int(scheme.centred_resize),
                        int(scheme.zero_border), scheme.cubic_a, torch.get_num_threads(), counts)
    return out, list(counts)


def median5(planes: np.ndarray) -> np.ndarray:
    """5x5 median (replicated border) of (N, H, W) planes, by the library (a new float32 array)."""
    out = np.array(planes, dtype=np.float32, order="C")
    library().tvl1_median5(*out.shape, out.ctypes.data)
    return out
