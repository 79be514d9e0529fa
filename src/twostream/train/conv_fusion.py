"""Conv fusion stage (the positive control): build on the stage-1 streams, train end to end, score.

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
from twostream.eval.predict import ClipScorer
from twostream.models import checkpoint
from twostream.models.conv_fusion import ConvFusionNet
from twostream.train import precision
from twostream.train.engine import StepFn, accuracy

MODALITIES = ("rgb", "flow")
OUTPUT = "fused"  # the one output of a conv-fusion score file


def build(config: dict[str, Any]) -> ConvFusionNet:
    """An untrained ConvFusionNet of a conv-fusion checkpoint config."""
    return ConvFusionNet(checkpoint.build_stream(config["rgb"]), checkpoint.build_stream(config["flow"]), config["stage"])


def from_stage1(rgb_path: str | os.PathLike, flow_path: str | os.PathLike, stage: str) -> tuple[ConvFusionNet, dict]:
    """The network on the two trained stage-1 streams (fused after ``stage``), and its config."""
    rgb, rgb_config = checkpoint.load_stream(rgb_path)
    flow, flow_config = checkpoint.load_stream(flow_path)
    if (rgb_config["modality"], flow_config["modality"]) != ("rgb", "flow"):
        raise ValueError(f"{rgb_path}, {flow_path}: expected an RGB and a flow stream, "
                         f"got {rgb_config['modality']} and {flow_config['modality']}")
    config = {"stage": stage, "rgb": rgb_config, "flow": flow_config}
    return ConvFusionNet(rgb, flow, stage), config


def make_step(device: torch.device) -> StepFn:
    """The Trainer step: fused video scores, cross-entropy, accuracy."""

    def step(model: torch.nn.Module, batch: dict[str, Any]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        scores = model(to_input(batch["rgb"].to(device), "rgb"), to_input(batch["flow"].to(device), "flow"))
        target = batch["label"].to(device)
        return F.cross_entropy(scores, target), {"acc": accuracy(scores, target)}

    return step


def scorer(ckpt: dict, device: torch.device) -> tuple[tuple[str, ...], ClipScorer]:
    """Scorer of a conv-fusion checkpoint: {"fused": scores}."""
    net = build(ckpt["config"])
    net.load_state_dict(ckpt["state_dict"])
    precision.place(net, device).eval()
    return MODALITIES, lambda clips: {OUTPUT: net(clips["rgb"], clips["flow"])}
