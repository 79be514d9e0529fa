"""Conv fusion stage (the positive control): its start on the stage-1 streams and its training step.

The whole network (both trunks, the 1x1 fusion, the flow tower and classifier) is trained
jointly with cross-entropy on the fused video scores, with TSN sampling and the streams'
shared crop (RGB frame and flow stack cover the same pixels, see ``data.dataset``).
"""

from __future__ import annotations

import os
from typing import Any

import torch
import torch.nn.functional as F

from twostream.data.transforms import to_input
from twostream.models import checkpoint
from twostream.models.conv_fusion import ConvFusionNet
from twostream.train.engine import StepFn, accuracy

MODALITIES = ("rgb", "flow")


def from_stage1(rgb_path: str | os.PathLike, flow_path: str | os.PathLike, stage: str) -> tuple[ConvFusionNet, dict]:
    """The network on the two trained stage-1 streams (fused after ``stage``), and its config."""
    rgb, flow, rgb_config, flow_config = checkpoint.load_stage1(rgb_path, flow_path)
    config = {"stage": stage, "rgb": rgb_config, "flow": flow_config}
    return ConvFusionNet(rgb, flow, stage), config


def step(config: dict[str, Any], device: torch.device) -> StepFn:
    """The Trainer step: fused video scores, cross-entropy, accuracy."""

    def run(model: torch.nn.Module, batch: dict[str, Any]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        scores = model(to_input(batch["rgb"].to(device), "rgb"), to_input(batch["flow"].to(device), "flow"))
        target = batch["label"].to(device)
        return F.cross_entropy(scores, target), {"acc": accuracy(scores, target)}

    return run
