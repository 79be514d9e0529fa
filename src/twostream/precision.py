"""Numeric precision and memory format of training and evaluation (``train.precision``).

``bf16`` and ``fp16`` run the forward pass and the loss under ``torch.autocast`` (weights,
gradients and optimiser state stay fp32); ``fp16`` also scales the loss with a GradScaler,
whose state the Trainer checkpoints. ``auto`` is bf16 on CUDA and fp32 elsewhere. On CUDA
networks are also stored channels-last and cuDNN picks its fastest kernels
(``cudnn.benchmark``); loader tensors are already channels-last (see ``transforms.to_input``).
"""

from __future__ import annotations

import contextlib

import torch
import torch.nn as nn

PRECISIONS = ("auto", "bf16", "fp16", "fp32")
DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def resolve(name: str, device: torch.device) -> str:
    """``auto`` -> bf16 on CUDA, fp32 elsewhere; other names are checked and returned."""
    if name not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {name!r}")
    if name == "auto":
        return "bf16" if device.type == "cuda" else "fp32"
    return name


def autocast(device: torch.device, name: str) -> contextlib.AbstractContextManager:
    """The autocast region of a resolved precision (a no-op for fp32)."""
    if name == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=DTYPES[name])


def scaler(device: torch.device, name: str) -> torch.amp.GradScaler:
    """A loss scaler, enabled for fp16 only (disabled, it passes losses and steps through)."""
    return torch.amp.GradScaler(device.type, enabled=name == "fp16")


def place(net: nn.Module, device: torch.device) -> nn.Module:
    """Move ``net`` to ``device``; on CUDA store it channels-last and let cuDNN benchmark its kernels."""
    net.to(device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        net.to(memory_format=torch.channels_last)
    return net
