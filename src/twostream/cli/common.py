"""What the training and evaluation commands share: their specs, process setup, and the training run.

Every trainer (``train``, ``cmmp-train``, ``cma-train``) reads a ``Training`` spec (its own fields
added) and hands ``train`` a ``start`` (the network, its checkpoint config, what ties a resume file
to its origin) and a ``step`` (its kind's training step); ``train`` does the rest, the same for all.
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import torch
import torch.nn as nn

from twostream.data import batches
from twostream.data.dataset import TSNDataset, select
from twostream.models import checkpoint
from twostream.train import distributed
from twostream.train.engine import Schedule, StepFn, Trainer


@dataclass(frozen=True)
class ScheduleSpec:
    """A training length in ``epochs`` or ``iterations`` (optimiser steps; exactly one), lr steps in the same unit."""

    lr: float
    epochs: float | None
    iterations: int | None
    lr_steps: list[float]
    weight_decay: float
    momentum: float
    clip_grad: float
    plateau_patience: int


@dataclass(frozen=True)
class Training:
    """The config values every trainer uses: TSN sampling, batches, device and speed options, seed and schedule."""

    segments: int
    length: int
    crop: int
    hflip: bool
    batch_size: int
    workers: int
    device: str
    precision: str  # auto | bf16 | fp16 | fp32 (train.precision)
    compile: bool
    prefetch: int
    decode: str  # cpu | gpu | auto (data.batches)
    seed: int
    checkpoint_every: int
    schedule: ScheduleSpec


def add_run_arguments(p: argparse.ArgumentParser) -> None:
    """The paths and wildcards of a training or evaluation job (its config values come in ``--spec``)."""
    p.add_argument("--index", required=True, help="shard index CSV of the dataset")
    p.add_argument("--split", type=int, required=True, help="official split")
    p.add_argument("--threads", type=int, required=True, help="torch CPU threads of the job (0: torch's default)")


def set_threads(threads: int) -> None:
    """torch CPU threads of the job (0: torch's default); under torchrun each of its processes on this
    node takes an equal share."""
    if threads:
        torch.set_num_threads(max(1, threads // int(os.environ.get("LOCAL_WORLD_SIZE", 1))))


def process(device: str) -> tuple[distributed.Context, torch.device]:
    """This process's place in a torchrun job (a single process otherwise) and its device, resolved once."""
    return distributed.process(device)


def read_index(path: str) -> pd.DataFrame:
    return pd.read_csv(path, keep_default_na=False)


def num_classes(index: pd.DataFrame) -> int:
    return int(index["label"].max()) + 1


def schedule(spec: Training, n_train: int) -> Schedule:
    """The step schedule of a spec: epochs (and epoch lr steps) turned into optimiser steps."""
    s = spec.schedule
    per_epoch = max(n_train // spec.batch_size, 1)
    if (s.epochs is None) == (s.iterations is None):
        raise SystemExit("give exactly one of epochs and iterations")
    if s.epochs is not None:
        steps = math.ceil(s.epochs * per_epoch)
        milestones = [round(e * per_epoch) for e in s.lr_steps]
    else:
        steps, milestones = s.iterations, [int(x) for x in s.lr_steps]
    return Schedule(steps=steps, lr=s.lr, batch_size=spec.batch_size, milestones=milestones,
                    plateau_patience=s.plateau_patience, momentum=s.momentum, weight_decay=s.weight_decay,
                    clip_grad=s.clip_grad, workers=spec.workers, checkpoint_every=spec.checkpoint_every,
                    precision=spec.precision, compile=spec.compile, prefetch=spec.prefetch)


Start = Callable[[pd.DataFrame], tuple[nn.Module, dict[str, Any], dict[str, Any]]]


def train(args: argparse.Namespace, spec: Training, kind: str, modalities: tuple[str, ...], start: Start,
          step: Callable[[dict[str, Any], torch.device], StepFn]) -> int:
    """One training run: ``start(index)`` -> (network, checkpoint config, its origin), trained to the end of the
    schedule (resuming a matching ``<out>.resume``), saved as a ``kind`` checkpoint at ``args.out``.

    Only parameters with ``requires_grad`` are trained (a kind's start may freeze some).
    """
    set_threads(args.threads)
    torch.manual_seed(spec.seed)  # the new weights start() initialises (torch seeds each process at random otherwise)
    index = read_index(args.index)
    net, config, origin = start(index)
    ctx, dev = process(spec.device)
    net.to(dev)
    data = TSNDataset(select(index, args.split, "train"), modalities, segments=spec.segments, length=spec.length,
                      crop=spec.crop, train=True, hflip=spec.hflip, seed=spec.seed,
                      decode=batches.resolve_decode(spec.decode, dev))
    resume = Path(args.out + ".resume")
    run_id = {"config": config, **origin, "index": args.index, "split": args.split, "crop": spec.crop,
              "hflip": spec.hflip, "segments": spec.segments}
    params = [p for p in net.parameters() if p.requires_grad]
    trainer = Trainer(net, params, data, schedule(spec, len(data)), seed=spec.seed, resume=resume, run_id=run_id,
                      device=dev, ctx=ctx)
    history = trainer.fit(step(config, dev))
    if ctx.main:
        checkpoint.save(args.out, net, kind, config, history)
        resume.unlink(missing_ok=True)
    return 0


def check_flow_length(config: dict[str, Any], length: int, source: str) -> None:
    """Stop unless the flow stream of a two-stream checkpoint config reads stacks of ``length`` fields."""
    channels = config["flow"]["in_channels"]
    if channels != 2 * length:
        raise SystemExit(f"{source}: the flow stream reads {channels} channels, not 2 x length {length}")


def use_torch_home(torch_home: str) -> None:
    """Read ImageNet weights from this torchvision cache (TORCH_HOME; empty: torchvision's default)."""
    if torch_home:
        os.environ["TORCH_HOME"] = torch_home
