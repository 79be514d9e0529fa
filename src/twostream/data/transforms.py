"""Crops, flips and normalisation for snippets (numpy on the loader side, torch on the device).

Loaders return uint8; ``to_input`` converts on the device. RGB is scaled to [0, 1] and
normalised with ImageNet's mean and std (RGB order). Flow is dequantised to [-1, 1]
and not normalised further. A horizontal flip mirrors the image and negates flow-x.
"""

from __future__ import annotations

import numpy as np
import torch

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CROPS = (1, 5, 10)


def random_crop_box(h: int, w: int, size: int, rng: np.random.Generator) -> tuple[int, int]:
    """Top-left corner of a random ``size`` x ``size`` crop."""
    return int(rng.integers(0, h - size + 1)), int(rng.integers(0, w - size + 1))


def eval_crop_boxes(h: int, w: int, size: int, crops: int) -> list[tuple[int, int, bool]]:
    """(top, left, flip) for 1 (centre), 5 (corners + centre) or 10 (those and their flips) crops."""
    if crops not in CROPS:
        raise ValueError(f"crops must be one of {CROPS}, got {crops}")
    centre = ((h - size) // 2, (w - size) // 2)
    boxes = [centre] if crops == 1 else [(0, 0), (0, w - size), (h - size, 0), (h - size, w - size), centre]
    out = [(t, l, False) for t, l in boxes]
    return out + [(t, l, True) for t, l in boxes] if crops == 10 else out


def crop(x: np.ndarray, top: int, left: int, size: int) -> np.ndarray:
    """Crop the H, W axes of (..., H, W, C)."""
    return x[..., top:top + size, left:left + size, :]


def hflip_rgb(x: np.ndarray) -> np.ndarray:
    return x[..., ::-1, :]


def hflip_flow(q: np.ndarray) -> np.ndarray:
    """Mirror quantised flow (..., H, W, 2) and negate its x component (q -> 256 - q)."""
    out = q[..., ::-1, :].copy()
    out[..., 0] = np.clip(256 - out[..., 0].astype(np.int16), 0, 255)
    return out


def to_input(x: torch.Tensor, modality: str) -> torch.Tensor:
    """uint8 (..., H, W, C) from a loader -> float (..., C, H, W) network input, on x's device."""
    x = x.movedim(-1, -3).float()
    if modality == "rgb":
        mean = x.new_tensor(IMAGENET_MEAN).view(3, 1, 1)
        std = x.new_tensor(IMAGENET_STD).view(3, 1, 1)
        return (x / 255.0 - mean) / std
    if modality == "flow":
        return (x - 128.0) / 127.0
    raise ValueError(f"unknown modality {modality!r}")
