"""Stage 1: one stream (RGB or flow) trained alone, TSN sampling and cross-entropy on the segment average."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from twostream.data.transforms import to_input
from twostream.models import checkpoint
from twostream.models.streams import StreamNet, tsn_forward
from twostream.train.engine import StepFn, accuracy


def start(modality: str, depth: int, num_classes: int, dropout: float, length: int,
          pretrained: str) -> tuple[StreamNet, dict[str, Any]]:
    """A new stream (initialised from ``pretrained``: none | imagenet | path) and its checkpoint config."""
    config = checkpoint.stream_config(modality, depth, num_classes, dropout, length)
    return checkpoint.build_stream(config, pretrained), config


def step(config: dict[str, Any], device: torch.device) -> StepFn:
    """The Trainer step of a stream: cross-entropy of the segment-averaged scores, and the training accuracy."""
    modality = config["modality"]

    def run(model: torch.nn.Module, batch: dict[str, Any]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        scores = tsn_forward(model, to_input(batch[modality].to(device), modality))
        target = batch["label"].to(device)
        return F.cross_entropy(scores, target), {"acc": accuracy(scores, target)}

    return run
