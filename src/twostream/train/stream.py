"""Stage 1: one stream (RGB or flow) trained alone, TSN sampling and cross-entropy on the segment average."""

from __future__ import annotations

from typing import Any

import pandas as pd
import torch
import torch.nn.functional as F

from twostream.data.transforms import to_input
from twostream.eval.predict import Scored
from twostream.models import checkpoint
from twostream.models.streams import StreamNet, tsn_forward
from twostream.specs import StreamSpec
from twostream.train.engine import StepFn, accuracy
from twostream.train.run import num_classes, use_torch_home

build = checkpoint.build_stream  # an untrained network of a checkpoint config (twostream.kinds)


def start(spec: StreamSpec, init: list[str], index: pd.DataFrame) -> tuple[StreamNet, dict[str, Any], dict[str, Any]]:
    """A new stream (initialised from ``model.pretrained``: none | imagenet | path), its checkpoint config and origin."""
    if init:
        raise ValueError("a stream starts from model.pretrained, not from a checkpoint")
    use_torch_home(spec.torch_home)
    config = checkpoint.stream_config(spec.modality, spec.depth, num_classes(index), spec.dropout, spec.length)
    return checkpoint.build_stream(config, spec.pretrained), config, {"pretrained": spec.pretrained}


def modalities(config: dict[str, Any]) -> tuple[str, ...]:
    return (config["modality"],)


def step(config: dict[str, Any], device: torch.device) -> StepFn:
    """The Trainer step of a stream: cross-entropy of the segment-averaged scores, and the training accuracy."""
    modality = config["modality"]

    def run(model: torch.nn.Module, batch: dict[str, Any]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        scores = tsn_forward(model, to_input(batch[modality].to(device), modality))
        target = batch["label"].to(device)
        return F.cross_entropy(scores, target), {"acc": accuracy(scores, target)}

    return run


def scorer(net: StreamNet, config: dict[str, Any]) -> Scored:
    """A single stream: {modality: scores}."""
    m = config["modality"]
    return (m,), lambda clips: {m: tsn_forward(net, clips[m])}
