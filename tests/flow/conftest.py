"""Shared flow test data: FlyingChairs pairs with ground truth, and exactly translated textures."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from twostream.flow.flo import read_flo

REPO = Path(__file__).resolve().parents[2]
CHAIRS = REPO.parent / "shared" / "data" / "flow_gt" / "flyingchairs"
CLIPS = REPO.parent / "shared" / "data" / "clips"
CHAIRS_PAIRS = 5
SMALL = (256, 340)  # (H, W) the two-stream papers resize frames to


def _translated_texture(height: int, width: int, shift: tuple[float, float], seed: int = 0) -> np.ndarray:
    """Two uint8 frames of a smooth random texture, the second moved by ``shift`` = (dx, dy) px.

    The texture is a sum of sinusoids (periods 9 to 40 px, all directions), so the
    moved frame is sampled exactly rather than interpolated; flow from the first
    frame to the second is ``shift`` everywhere.
    """
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:height, :width].astype(np.float64)
    angles = rng.uniform(0, 2 * np.pi, 24)
    freqs = 1 / rng.uniform(9, 40, 24)
    phases = rng.uniform(0, 2 * np.pi, 24)

    def texture(xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        waves = sum(
            np.cos(2 * np.pi * f * (np.cos(a) * xs + np.sin(a) * ys) + p)
            for a, f, p in zip(angles, freqs, phases)
        )
        return np.clip(np.round(128 + 100 * waves / np.sqrt(len(angles)) / 1.5), 0, 255).astype(np.uint8)

    return np.stack([texture(x, y), texture(x - shift[0], y - shift[1])])


@pytest.fixture(scope="session")
def translated_texture() -> Callable[..., np.ndarray]:
    """``translated_texture(height, width, (dx, dy), seed=0)``: (2, H, W) frames moved exactly by (dx, dy)."""
    return _translated_texture


def _resize_pair(
    img0: np.ndarray, img1: np.ndarray, gt: np.ndarray, size: tuple[int, int]
) -> tuple[np.ndarray, ...]:
    """Frames resized like video frames (area averaging), ground truth resampled and rescaled."""
    h, w = size
    scale = np.array([w / gt.shape[1], h / gt.shape[0]], np.float32)
    frames = (cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA) for img in (img0, img1))
    return (*frames, cv2.resize(gt, (w, h), interpolation=cv2.INTER_LINEAR) * scale)


def _stack(pairs: list[tuple[np.ndarray, ...]]) -> tuple[np.ndarray, ...]:
    return tuple(np.stack(column) for column in zip(*pairs))


@pytest.fixture(scope="session")
def chairs() -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``{"256x340": (prev, nxt, gt)}``: stacks of the five FlyingChairs pairs resized to 256x340."""
    if not CHAIRS.is_dir():
        pytest.skip(f"FlyingChairs test pairs not found at {CHAIRS} (the shared test data)")
    small = []
    for k in range(CHAIRS_PAIRS):
        stem = CHAIRS / f"{k:07d}"
        img0 = cv2.imread(f"{stem}-img0.png", cv2.IMREAD_GRAYSCALE)
        img1 = cv2.imread(f"{stem}-img1.png", cv2.IMREAD_GRAYSCALE)
        small.append(_resize_pair(img0, img1, read_flo(f"{stem}-gt.flo"), SMALL))
    return {f"{SMALL[0]}x{SMALL[1]}": _stack(small)}
