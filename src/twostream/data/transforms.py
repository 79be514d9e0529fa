"""Crops, flips and normalisation for snippets (numpy on the loader side, torch on the device).

Loaders return uint8; ``to_input`` converts on the device. RGB is scaled to [0, 1] and
normalised with ImageNet's mean and std (RGB order). Flow is dequantised to [-1, 1]
and not normalised further. A horizontal flip mirrors the image and negates flow-x.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from twostream.data.shards import dequantize_flow

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CROPS = (1, 5, 10)


def random_crop_box(h: int, w: int, size: int, rng: np.random.Generator) -> tuple[int, int]:
    """Top-left corner of a random ``size`` x ``size`` crop."""
    return int(rng.integers(0, h - size + 1)), int(rng.integers(0, w - size + 1))


def eval_crop_boxes(h: int, w: int, size: int, crops: int, flips: bool = True) -> list[tuple[int, int, bool]]:
    """(top, left, flip) for 1 (centre), 5 (corners + centre) or 10 (those and their flips) crops.

    ``flips`` False (a dataset trained without flips, whose labels include left and right): 10 crops
    are the 5 unflipped ones, since a mirrored flow stack shows the opposite direction.
    """
    if crops not in CROPS:
        raise ValueError(f"crops must be one of {CROPS}, got {crops}")
    centre = ((h - size) // 2, (w - size) // 2)
    boxes = [centre] if crops == 1 else [(0, 0), (0, w - size), (h - size, 0), (h - size, w - size), centre]
    out = [(t, l, False) for t, l in boxes]
    return out + [(t, l, True) for t, l in boxes] if crops == 10 and flips else out


# Negating quantised flow: q -> 256 - q (zero flow, 128, stays 128), clipped to 255 for q = 0.
NEGATE = np.minimum(256 - np.arange(256), 255).astype(np.uint8)


def view(img: np.ndarray, top: int, left: int, size: int, flip: bool, negate: bool = False) -> np.ndarray:
    """A ``size`` crop of an (H, W[, C]) image, mirrored if ``flip``; ``negate`` also negates quantised flow (x)."""
    out = img[top:top + size, left:left + size]
    if flip:
        out = cv2.flip(out, 1)
        if negate:
            out = cv2.LUT(out, NEGATE)
    return out


def crop_views(frames: torch.Tensor, views: list[tuple[int, int, bool]], size: int,
               negate_x: bool = False) -> torch.Tensor:
    """(K, C, H, W) uint8 frames -> (views, K, C, size, size): ``view`` on a tensor, on its device.

    ``negate_x``: the channels are quantised flow planes x, y, x, ...; a flip negates the x planes.
    """
    out = []
    for top, left, flip in views:
        v = frames[..., top:top + size, left:left + size]
        if flip:
            v = v.flip(-1)
            if negate_x:
                lut = torch.from_numpy(NEGATE).to(v.device)
                v[:, 0::2] = lut[v[:, 0::2].long()]
        out.append(v)
    return torch.stack(out)


def to_input(x: torch.Tensor, modality: str) -> torch.Tensor:
    """uint8 (..., H, W, C) from a loader -> float (..., C, H, W) network input, on x's device.

    The result keeps the loader's layout in memory, so a (N, C, H, W) input is channels-last.
    """
    x = x.movedim(-1, -3).float()
    if modality == "rgb":
        mean = x.new_tensor(IMAGENET_MEAN).view(3, 1, 1)
        std = x.new_tensor(IMAGENET_STD).view(3, 1, 1)
        return (x / 255.0 - mean) / std
    if modality == "flow":
        return dequantize_flow(x)
    raise ValueError(f"unknown modality {modality!r}")
