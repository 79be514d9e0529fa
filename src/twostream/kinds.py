"""The table of model kinds: how to build each from its checkpoint config, its training step, its scorer.

A checkpoint records its kind (``models.checkpoint.save``); ``twostream evaluate`` scores any kind
through this table. Every entry is an ordinary import, so the code version of a command that uses
the table (``workflow.code_version``) covers every kind's code. ``command`` names the twostream
command that trains the kind (it imports that kind's modules only, so editing one kind's code
re-runs that kind's training and not the others').
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn as nn

from twostream.eval import scorers
from twostream.models import checkpoint
from twostream.models import cma as cma_model
from twostream.models import cmmp as cmmp_model
from twostream.models import conv_fusion as conv_fusion_model
from twostream.train import cma, cmmp, conv_fusion, precision, stream
from twostream.train.engine import StepFn


@dataclass(frozen=True)
class Kind:
    build: Callable[[dict[str, Any]], nn.Module]  # an untrained network of a checkpoint config
    step: Callable[[dict[str, Any], torch.device], StepFn]  # the Trainer step of a config
    scorer: Callable[[nn.Module, dict[str, Any]], scorers.Scored]  # (modalities read, clip scorer) of a network
    command: str  # the twostream command that trains it


KINDS: dict[str, Kind] = {
    "stream": Kind(checkpoint.build_stream, stream.step, scorers.stream, "train"),
    "cmmp": Kind(cmmp_model.build, cmmp.step, scorers.cmmp, "cmmp-train"),
    "cma": Kind(cma_model.build, cma.step, scorers.cma, "cma-train"),
    "conv_fusion": Kind(conv_fusion_model.build, conv_fusion.step, scorers.conv_fusion, "conv-fusion-train"),
}


def scorer(path: str | os.PathLike, device: torch.device) -> scorers.Scored:
    """(modalities the model reads, clip scorer) of a checkpoint file of any kind (``checkpoint_scorer``)."""
    return checkpoint_scorer(checkpoint.load(path), device, path)


def checkpoint_scorer(ckpt: dict[str, Any], device: torch.device, path: str | os.PathLike = "checkpoint") -> scorers.Scored:
    """The scorer of a loaded checkpoint, its network in eval mode on ``device`` (``precision.place``: channels-last
    on CUDA); ``path`` names it in errors."""
    if ckpt["kind"] not in KINDS:
        raise ValueError(f"{path}: unknown checkpoint kind {ckpt['kind']!r}; known: {', '.join(KINDS)}")
    kind = KINDS[ckpt["kind"]]
    net = precision.place(checkpoint.restore(ckpt, kind.build), device).eval()
    return kind.scorer(net, ckpt["config"])
