"""Middlebury ``.flo`` files: float32 tag 202021.25, int32 width, int32 height, then H*W*2 float32."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

TAG = np.float32(202021.25)


def read_flo(path: str | os.PathLike) -> np.ndarray:
    """Read a .flo file into a (H, W, 2) float32 array."""
    with open(path, "rb") as f:
        tag = np.fromfile(f, np.float32, 1)
        if tag.size != 1 or tag[0] != TAG:
            raise ValueError(f"{path}: not a Middlebury .flo file (bad tag)")
        w, h = (int(v) for v in np.fromfile(f, np.int32, 2))
        data = np.fromfile(f, np.float32, h * w * 2)
    if data.size != h * w * 2:
        raise ValueError(f"{path}: truncated .flo file ({data.size} of {h * w * 2} values)")
    return data.reshape(h, w, 2)


def write_flo(path: str | os.PathLike, flow: np.ndarray) -> None:
    """Write a (H, W, 2) flow field as .flo, atomically (temporary name, then rename)."""
    flow = np.asarray(flow, np.float32)
    if flow.ndim != 3 or flow.shape[2] != 2:
        raise ValueError(f"expected (H, W, 2) flow, got {flow.shape}")
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        TAG.tofile(f)
        np.array([flow.shape[1], flow.shape[0]], np.int32).tofile(f)
        flow.tofile(f)
    os.replace(tmp, path)
