"""Decoders for the extract pipeline's tests, importable by its worker processes (not a test module)."""

from __future__ import annotations

import os
import signal
import time

import numpy as np

STAGE_SECONDS = 0.5  # each stage's time per video in the overlap test
FRAMES = 5


def frames_of(path: str, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Deterministic frames for a fake video (its number is the last character of the name), every one decoded."""
    seed = int(os.path.splitext(path)[0][-1])
    rng = np.random.default_rng(seed)
    frames = rng.integers(0, 256, (FRAMES, *size, 3), dtype=np.uint8)
    return frames, frames[..., 1].copy(), np.arange(FRAMES)


def sleepy(path: str, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    time.sleep(STAGE_SECONDS)
    return frames_of(path, size)


def crashing(path: str, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Dies of a segfault on videos named crash*, as a native decoder bug would."""
    if os.path.basename(path).startswith("crash"):
        os.kill(os.getpid(), signal.SIGSEGV)
    return frames_of(path, size)
