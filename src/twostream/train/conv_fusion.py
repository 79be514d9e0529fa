"""Conv fusion stage (the positive control): its start on the stage-1 streams and its training step.

The whole network (both trunks, the 1x1 fusion, the flow tower and classifier) is trained
jointly with cross-entropy on the fused video scores, with TSN sampling and the streams'
shared crop (RGB frame and flow stack cover the same pixels, see ``data.dataset``).
"""

from __future__ import annotations

import os
from typing import Any

import pandas as pd
import torch
import torch.nn.functional as F

from twostream.data.transforms import to_input
from twostream.eval.predict import Scored
from twostream.models import checkpoint
from twostream.models import conv_fusion as model
from twostream.models.conv_fusion import FUSED, ConvFusionNet
from twostream.specs import ConvFusionSpec
from twostream.train.engine import StepFn, accuracy
from twostream.train.run import check_flow_length, stage1_origin

MODALITIES = ("rgb", "flow")
build = model.build  # an untrained network of a checkpoint config (twostream.kinds)


def from_stage1(rgb_path: str | os.PathLike, flow_path: str | os.PathLike, stage: str) -> tuple[ConvFusionNet, dict]:
    """The network on the two trained stage-1 streams (fused after ``stage``), and its config."""
    rgb, flow, rgb_config, flow_config = checkpoint.load_stage1(rgb_path, flow_path)
    config = {"stage": stage, "rgb": rgb_config, "flow": flow_config}
    return ConvFusionNet(rgb, flow, stage), config


def start(spec: ConvFusionSpec, init: list[str], index: pd.DataFrame) -> tuple[ConvFusionNet, dict, dict]:
    """From ``init`` = [stage-1 RGB stream, stage-1 flow stream]."""
    rgb, flow = init
    net, config = from_stage1(rgb, flow, spec.stage)
    check_flow_length(config, spec.length, flow)
    return net, config, stage1_origin(rgb, flow)


def modalities(config: dict[str, Any]) -> tuple[str, ...]:
    return MODALITIES


def step(config: dict[str, Any], device: torch.device) -> StepFn:
    """The Trainer step: fused video scores, cross-entropy, accuracy."""

    def run(model: torch.nn.Module, batch: dict[str, Any]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        scores = model(to_input(batch["rgb"].to(device), "rgb"), to_input(batch["flow"].to(device), "flow"))
        target = batch["label"].to(device)
        return F.cross_entropy(scores, target), {"acc": accuracy(scores, target)}

    return run


def scorer(net: ConvFusionNet, config: dict[str, Any]) -> Scored:
    """A conv-fusion model: its one output {"fused": scores}."""
    return MODALITIES, lambda clips: {FUSED: net(clips["rgb"], clips["flow"])}
