"""Build a clip scorer from a trained checkpoint, by the checkpoint's kind.

Each kind's module provides ``scorer(ckpt: dict, device) -> (modalities, ClipScorer)``.
"""

from __future__ import annotations

import importlib
import os

import torch

from twostream.eval.predict import ClipScorer
from twostream.models import checkpoint
from twostream.models.streams import tsn_forward
from twostream.train import precision

KINDS = {"stream": "twostream.eval.scorers", "cmmp": "twostream.train.cmmp", "cma": "twostream.train.cma",
         "conv_fusion": "twostream.train.conv_fusion"}


def scorer(ckpt: dict, device: torch.device) -> tuple[tuple[str, ...], ClipScorer]:
    """Scorer of a single stream: {modality: scores}."""
    net = checkpoint.build_stream(ckpt["config"])
    net.load_state_dict(ckpt["state_dict"])
    precision.place(net, device).eval()
    m = ckpt["config"]["modality"]
    return (m,), lambda clips: {m: tsn_forward(net, clips[m])}


def from_checkpoint(path: str | os.PathLike, device: torch.device) -> tuple[tuple[str, ...], ClipScorer]:
    """(modalities the model reads, scorer) for a checkpoint file."""
    ckpt = checkpoint.load(path)
    if ckpt["kind"] not in KINDS:
        raise ValueError(f"{path}: unknown checkpoint kind {ckpt['kind']!r}")
    return importlib.import_module(KINDS[ckpt["kind"]]).scorer(ckpt, device)
