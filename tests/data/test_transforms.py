"""Crops, flips (flow-x negated) and normalisation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from twostream.data.shards import dequantize_flow, quantize_flow
from twostream.data import transforms
from twostream.data.transforms import IMAGENET_MEAN, eval_crop_boxes, to_input, view


def test_ten_crops() -> None:
    boxes = eval_crop_boxes(256, 340, 224, 10)
    assert len(boxes) == 10 and sum(f for *_, f in boxes) == 5
    assert (0, 0, False) in boxes and (32, 116, True) in boxes and (16, 58, False) in boxes
    assert eval_crop_boxes(256, 340, 224, 1) == [(16, 58, False)]
    assert eval_crop_boxes(256, 340, 224, 10, flips=False) == eval_crop_boxes(256, 340, 224, 5)
    with pytest.raises(ValueError):
        eval_crop_boxes(256, 340, 224, 3)


def test_flip_negates_flow_x() -> None:
    flow = np.zeros((4, 5, 2), np.float32)
    flow[..., 0] = np.linspace(-0.8, 0.8, 5)
    flow[..., 1] = 0.25
    q = quantize_flow(flow)
    x = dequantize_flow(view(q[..., 0], 0, 0, 4, flip=True, negate=True))
    y = dequantize_flow(view(q[..., 1], 0, 0, 4, flip=True))
    assert np.allclose(x, -flow[:4, :4, 0][:, ::-1], atol=1 / 127)
    assert np.allclose(y, 0.25, atol=1 / 127)
    # Mirrored, then q -> 256 - q with zero flow (128) fixed and q = 0 clipped to 255.
    assert view(np.array([[0, 1, 128, 255]], np.uint8), 0, 0, 4, True, True).tolist() == [[1, 128, 255, 255]]


def test_to_input() -> None:
    rgb = torch.full((2, 4, 4, 3), 255, dtype=torch.uint8)
    x = to_input(rgb, "rgb")
    assert x.shape == (2, 3, 4, 4)
    assert torch.allclose(x[0, 0, 0, 0], torch.tensor((1 - IMAGENET_MEAN[0]) / 0.229))
    flow = torch.tensor([[[[1, 128, 255]]]], dtype=torch.uint8)
    assert torch.allclose(to_input(flow, "flow").flatten(), torch.tensor([-1.0, 0.0, 1.0]))


def test_negating_on_the_device_is_the_lookup_table() -> None:
    """``negate_quantised`` (arithmetic, no table copied to the device per batch) equals ``NEGATE`` on every level."""
    levels = torch.arange(256, dtype=torch.uint8)
    assert np.array_equal(transforms.negate_quantised(levels).numpy(), transforms.NEGATE)
