"""Saving and loading trained models with the settings that rebuild them."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from typing import Any, BinaryIO

import torch
import torch.nn as nn

from twostream.files import atomic_path
from twostream.models.streams import StreamNet


class _Writes:
    """A file for ``torch.save`` that keeps the OSError of a failed write (torch reports it as a RuntimeError
    ``[enforce fail at inline_container.cc] unexpected pos``, which names neither the file nor the cause)."""

    def __init__(self, f: BinaryIO) -> None:
        self.f, self.error = f, None

    def write(self, data: bytes) -> int:
        try:
            return self.f.write(data)
        except OSError as e:
            self.error = e
            raise

    def flush(self) -> None:
        self.f.flush()


def save_atomic(obj: Any, path: str | os.PathLike) -> None:
    """``torch.save`` to a temporary name beside ``path``, then rename; a full disk or a read-only folder is a
    WriteError naming the file and the folder (``twostream.files.atomic_path``), and ``path`` is left as it was."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        writes = _Writes(f)
        try:
            torch.save(obj, writes)
        except RuntimeError as e:
            if writes.error is None:
                raise
            raise writes.error from e


def save(path: str | os.PathLike, model: nn.Module, kind: str, config: dict[str, Any],
         history: list[dict[str, float]]) -> None:
    """Write ``{kind, config, state_dict, history}`` atomically."""
    save_atomic({"kind": kind, "config": config, "state_dict": model.state_dict(), "history": history}, path)


def load(path: str | os.PathLike) -> dict[str, Any]:
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    if not isinstance(ckpt, dict) or "kind" not in ckpt:
        raise ValueError(f"{path}: not a twostream checkpoint")
    return ckpt


def restore(ckpt: dict[str, Any], build: Callable[[dict[str, Any]], nn.Module]) -> nn.Module:
    """The network of a loaded checkpoint: ``build(config)`` with the trained weights."""
    net = build(ckpt["config"])
    net.load_state_dict(ckpt["state_dict"])
    return net


def stream_config(modality: str, depth: int, num_classes: int, dropout: float, length: int) -> dict[str, Any]:
    return {"modality": modality, "depth": depth, "num_classes": num_classes, "dropout": dropout,
            "in_channels": 3 if modality == "rgb" else 2 * length}


def build_stream(config: dict[str, Any], pretrained: str = "none") -> StreamNet:
    """A stream of a checkpoint config; ``pretrained`` (none | imagenet | path) initialises a new one."""
    return StreamNet(config["depth"], config["in_channels"], config["num_classes"], dropout=config["dropout"],
                     pretrained=pretrained)


def load_stream(path: str | os.PathLike) -> tuple[StreamNet, dict[str, Any]]:
    """A trained stream and its config."""
    ckpt = load(path)
    if ckpt["kind"] != "stream":
        raise ValueError(f"{path}: a {ckpt['kind']} checkpoint, expected a stream")
    return restore(ckpt, build_stream), ckpt["config"]


def load_stage1(rgb_path: str | os.PathLike, flow_path: str | os.PathLike) -> tuple[StreamNet, StreamNet, dict, dict]:
    """The two trained stage-1 streams a two-stream model starts from: RGB, flow and their configs."""
    rgb, rgb_config = load_stream(rgb_path)
    flow, flow_config = load_stream(flow_path)
    if (rgb_config["modality"], flow_config["modality"]) != ("rgb", "flow"):
        raise ValueError(f"{rgb_path}, {flow_path}: expected an RGB and a flow stream, "
                         f"got {rgb_config['modality']} and {flow_config['modality']}")
    return rgb, flow, rgb_config, flow_config


def file_digest(path: str | os.PathLike) -> str:
    """SHA-256 prefix of a file (ties a resume checkpoint to the stage-1 weights it started from)."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()[:16]
