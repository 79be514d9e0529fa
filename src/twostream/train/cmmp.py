"""CMMP stage 2 (Wang et al., ICASSP 2018, Sec. 3.4): the six Table 1 variants, their start and objective.

Stage 2 builds a ``CMMPNet`` on the two stage-1 streams (backbones and classifiers keep
their stage-1 weights; the LSTM message generators start from PyTorch's default
initialisation) and trains the whole network jointly, with the adversarial objective
(Eq. 4-5, "+AL" variants and CMMP) or with plain per-stream cross-entropy.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pandas as pd
import torch

from twostream.data.transforms import to_input
from twostream.eval.metrics import fuse
from twostream.eval.predict import Scored
from twostream.models import checkpoint
from twostream.models import cmmp as model
from twostream.models.cmmp import VARIANTS, CMMPNet, Variant
from twostream.models.losses import adversarial_loss, plain_loss
from twostream.specs import CMMPSpec
from twostream.train.engine import StepFn, accuracy
from twostream.train.run import check_flow_length, stage1_origin

MODALITIES = ("rgb", "flow")
build = model.build  # an untrained network of a checkpoint config (twostream.kinds)

Objective = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], tuple[torch.Tensor, dict[str, torch.Tensor]]]


def objective(variant: Variant, per_sample: bool) -> Objective:
    """The variant's loss on (s_a, s_m, target): AL_a + AL_m or L_a + L_m."""
    if variant.adversarial:
        return lambda s_a, s_m, target: adversarial_loss(s_a, s_m, target, per_sample=per_sample)
    return plain_loss


def from_stage1(rgb_path: str | os.PathLike, flow_path: str | os.PathLike, slug: str,
                per_sample: bool) -> tuple[CMMPNet, dict[str, Any]]:
    """Stage 2's starting point: the variant's network on the two trained stage-1 streams, and its config."""
    variant = VARIANTS[slug]
    rgb, flow, rgb_config, flow_config = checkpoint.load_stage1(rgb_path, flow_path)
    config = {"variant": slug, "fusion": variant.fusion, "adversarial": variant.adversarial,
              "per_sample": per_sample, "rgb": rgb_config, "flow": flow_config}
    return CMMPNet.from_streams(rgb, flow, variant.fusion), config


def start(spec: CMMPSpec, init: list[str], index: pd.DataFrame) -> tuple[CMMPNet, dict[str, Any], dict[str, Any]]:
    """Variant ``spec.variant`` from ``init`` = [stage-1 RGB stream, stage-1 flow stream]."""
    rgb, flow = init
    net, config = from_stage1(rgb, flow, spec.variant, spec.per_sample_al)
    check_flow_length(config, spec.length, flow)
    return net, config, stage1_origin(rgb, flow)


def modalities(config: dict[str, Any]) -> tuple[str, ...]:
    return MODALITIES


def step(config: dict[str, Any], device: torch.device) -> StepFn:
    """The Trainer step of a stage-2 config: both streams' scores, the variant's objective, accuracies (fused 1:1)."""
    loss_fn = objective(VARIANTS[config["variant"]], config["per_sample"])

    def run(model: torch.nn.Module, batch: dict[str, Any]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        s_a, s_m = model(to_input(batch["rgb"].to(device), "rgb"), to_input(batch["flow"].to(device), "flow"))
        target = batch["label"].to(device)
        loss, parts = loss_fn(s_a, s_m, target)
        logs = {k: v.detach() for k, v in parts.items()}
        logs.update(acc_a=accuracy(s_a, target), acc_m=accuracy(s_m, target),
                    acc=accuracy(fuse(s_a.detach(), s_m.detach(), (1.0, 1.0)), target))
        return loss, logs

    return run


def scorer(net: CMMPNet, config: dict[str, Any]) -> Scored:
    """A CMMP stage-2 model: {"rgb": s_a, "flow": s_m}; the LSTMs run over each clip's K segments."""

    def score(clips: dict) -> dict:
        s_a, s_m = net(clips["rgb"], clips["flow"])
        return {"rgb": s_a, "flow": s_m}

    return MODALITIES, score
