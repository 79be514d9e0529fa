"""Build a clip scorer from a trained checkpoint, by the checkpoint's kind."""

from __future__ import annotations

import os

import torch

from twostream.eval.predict import ClipScorer
from twostream.models import checkpoint
from twostream.models.streams import tsn_forward


def from_checkpoint(path: str | os.PathLike, device: torch.device) -> tuple[tuple[str, ...], ClipScorer]:
    """(modalities the model reads, scorer) for a checkpoint file."""
    ckpt = checkpoint.load(path)
    if ckpt["kind"] == "stream":
        net, config = checkpoint.load_stream(path)
        net.to(device).eval()
        m = config["modality"]
        return (m,), lambda clips: {m: tsn_forward(net, clips[m])}
    raise ValueError(f"{path}: no scorer for checkpoint kind {ckpt['kind']!r}")
