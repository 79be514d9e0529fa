"""Video decoding with OpenCV: probing and frame iteration, resized on read."""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np


class VideoError(Exception):
    """A video that cannot be opened or decoded; the message names the reason."""


@dataclass(frozen=True)
class VideoInfo:
    frames: int  # as reported by the container (may differ from what decodes); 0: unknown
    fps: float  # 0.0: unknown
    width: int
    height: int


MAX_FRAMES = 10**8  # more than a year at 30 fps: no real container count
MAX_FPS = 10_000.0


def plausible_frames(count: float) -> int:
    """A container's frame count, or 0 (unknown) for impossible ones (negative, NaN, -2**63, huge)."""
    return int(count) if math.isfinite(count) and 0 < count <= MAX_FRAMES else 0


def plausible_fps(fps: float) -> float:
    """A container's frame rate, or 0.0 (unknown) for impossible ones."""
    return float(fps) if math.isfinite(fps) and 0 < fps <= MAX_FPS else 0.0


def _open(path: str | os.PathLike) -> cv2.VideoCapture:
    if os.path.islink(path) and not os.path.exists(path):
        raise VideoError(f"broken symbolic link (target {os.readlink(path)!r} is missing)")
    if os.path.isdir(path):
        raise VideoError("a directory, not a video file")
    if not os.path.isfile(path):
        raise VideoError("file not found")
    if os.path.getsize(path) == 0:
        raise VideoError("empty file (0 bytes)")
    cap = cv2.VideoCapture(os.fspath(path))
    if not cap.isOpened():
        raise VideoError("cannot open (not a video or unsupported codec)")
    return cap


def probe(path: str | os.PathLike) -> VideoInfo:
    """Container metadata, after checking that the first frame decodes."""
    cap = _open(path)
    try:
        ok, frame = cap.read()
        if not ok or frame is None:
            raise VideoError("no decodable frame")
        info = VideoInfo(
            frames=plausible_frames(cap.get(cv2.CAP_PROP_FRAME_COUNT)),
            fps=plausible_fps(cap.get(cv2.CAP_PROP_FPS)),
            width=frame.shape[1],
            height=frame.shape[0],
        )
    finally:
        cap.release()
    return info


def iter_frames(path: str | os.PathLike, size: tuple[int, int] | None = None) -> Iterator[np.ndarray]:
    """Yield BGR uint8 frames, resized to ``size`` = (height, width) if given.

    Frames are resized one at a time, so a large video never sits in memory whole.
    """
    cap = _open(path)
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            if frame.ndim == 2:
                frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
            if size is not None and frame.shape[:2] != tuple(size):
                interp = cv2.INTER_AREA if frame.shape[0] > size[0] else cv2.INTER_LINEAR
                frame = cv2.resize(frame, (size[1], size[0]), interpolation=interp)
            yield frame
    finally:
        cap.release()


def read_frames(path: str | os.PathLike, size: tuple[int, int] | None = None) -> np.ndarray:
    """All frames as a (T, H, W, 3) BGR uint8 array; VideoError if none decodes."""
    frames = list(iter_frames(path, size))
    if not frames:
        raise VideoError("no decodable frame")
    return np.stack(frames)
