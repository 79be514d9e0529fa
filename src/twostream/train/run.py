"""One training run of any model kind: its start, the Trainer to the end of its schedule, the checkpoint.

``twostream train --kind K`` calls ``train``; the kind's module (``twostream.kinds``) gives the start
(network, checkpoint config, what ties a resume file to its origin), the modalities it reads and its step.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from twostream.data import batches
from twostream.data.dataset import TSNDataset, read_index, select
from twostream.gpus import loader_workers, set_threads
from twostream.models import checkpoint
from twostream.specs import Schedule as ScheduleSpec
from twostream.train import distributed
from twostream.train.engine import Schedule, Trainer, fingerprint
from twostream.train.watch import Watch, validator


def num_classes(index: pd.DataFrame) -> int:
    return int(index["label"].max()) + 1


def use_torch_home(torch_home: str) -> None:
    """Read ImageNet weights from this torchvision cache (TORCH_HOME; empty: torchvision's default)."""
    if torch_home:
        os.environ["TORCH_HOME"] = torch_home


def check_flow_length(config: dict[str, Any], length: int, source: str) -> None:
    """Stop unless the flow stream of a two-stream checkpoint config reads stacks of ``length`` fields."""
    channels = config["flow"]["in_channels"]
    if channels != 2 * length:
        raise SystemExit(f"{source}: the flow stream reads {channels} channels, not 2 x length {length}")


def stage1_origin(rgb: str, flow: str) -> dict[str, Any]:
    """What ties a resume file to the stage-1 streams a model starts from: their weights' digests."""
    return {"stage1": [checkpoint.file_digest(rgb), checkpoint.file_digest(flow)]}


def schedule(spec: Any, n_train: int, workers: int = 0) -> Schedule:
    """The step schedule of a training spec: epochs (and epoch milestones) turned into optimiser steps; ``workers``:
    its loader workers, resolved (``gpus.loader_workers``; the plan, which only counts steps, leaves it 0)."""
    s: ScheduleSpec = spec.schedule
    per_epoch = max(n_train // spec.batch_size, 1)
    if (s.epochs is None) == (s.steps is None):
        raise SystemExit("give exactly one of epochs and steps")
    if s.epochs is not None:
        steps = math.ceil(s.epochs * per_epoch)
        milestones = [round(e * per_epoch) for e in s.milestones]
    else:
        steps, milestones = s.steps, [int(x) for x in s.milestones]
    return Schedule(steps=steps, lr=s.lr, batch_size=spec.batch_size, milestones=milestones,
                    plateau_patience=s.plateau_patience, momentum=s.momentum, weight_decay=s.weight_decay,
                    clip_grad=s.clip_grad, workers=workers, checkpoint_every=spec.checkpoint_every,
                    precision=spec.precision, compile=spec.compile, prefetch=spec.prefetch)


def run_seed(seed: int, kind: str, config: dict[str, Any]) -> int:
    """The seed of a run's views, batch order and dropout masks: ``seed`` mixed with its kind and checkpoint config.

    Every stage of a pipeline thus draws its own sequence. With ``seed`` itself, a stage that continues an earlier
    one's network (CMA iteration n, CMMP and conv fusion on the stage-1 streams) replayed that stage's exact
    batches, crops and dropout masks step for step: its first epochs met samples the network had been fitted to,
    so its training loss started low and rose as the replay ran out (docs/cma.md, "Why iteration 2 unlearned").
    """
    return int(fingerprint({"seed": seed, "kind": kind, "config": config}), 16)


def run_name(out: str) -> str:
    """How a training job names itself on the console: its dataset and its path below the dataset's data folder
    (``models/<d>/<data>/rgb-<key>/split1.pt``: ``train ucf101 rgb-<key>/split1``)."""
    parts = Path(out).with_suffix("").parts
    if len(parts) > 3 and parts[0] == "models":
        return f"train {parts[1]} {'/'.join(parts[3:])}"
    return f"train {Path(out).stem}"


def validation(kind: Any, spec: Any, net: torch.nn.Module, config: dict[str, Any], videos: pd.DataFrame,
               device: torch.device) -> Any:
    """The validation of a run (``twostream.train.watch.validator``): on ``videos``, the split's validation videos,
    as evaluation reads them with the training's segments and one centre crop; None where there are none."""
    if videos.empty:
        return None
    code = kind.code()
    data = TSNDataset(videos, code.modalities(config), segments=spec.segments, length=spec.length, crop=spec.crop,
                      train=False, hflip=spec.hflip, crops=1, seed=spec.seed,
                      decode=batches.resolve_decode(spec.decode, device))
    return validator(net, code.scorer(net, config), data, device, batch_size=spec.batch_size, precision=spec.precision)


def train(kind: Any, spec: Any, *, index: str, split: int, init: list[str], out: str, threads: int) -> None:
    """Train a ``kind`` (a ``twostream.kinds.Kind``) to the end of ``spec.schedule`` on the training videos of
    ``split`` (resuming a matching ``<out>.resume``) and save it as a checkpoint of that kind at ``out``.

    Only parameters with ``requires_grad`` are trained (a kind's start may freeze some).
    """
    code = kind.code()
    set_threads(threads)
    torch.manual_seed(spec.seed)  # the new weights start() initialises (torch seeds each process at random otherwise)
    videos = read_index(index)
    net, config, origin = code.start(spec, init, videos)
    seed = run_seed(spec.seed, kind.name, config)
    ctx, dev = distributed.process(spec.device)
    net.to(dev)
    data = TSNDataset(select(videos, split, "train"), code.modalities(config), segments=spec.segments,
                      length=spec.length, crop=spec.crop, train=True, hflip=spec.hflip, seed=seed,
                      decode=batches.resolve_decode(spec.decode, dev))
    resume = Path(out + ".resume")
    run_id = {"config": config, **origin, "index": index, "split": split, "crop": spec.crop, "hflip": spec.hflip,
              "segments": spec.segments}
    params = [p for p in net.parameters() if p.requires_grad]
    sched = schedule(spec, len(data), loader_workers(spec.workers, str(dev), threads))
    watch = Watch(out, run_name(out), validation(kind, spec, net, config, select(videos, split, "val"), dev),
                  spec.validate_every)
    trainer = Trainer(net, params, data, sched, seed=seed, resume=resume, run_id=run_id, device=dev, ctx=ctx,
                      watch=watch)
    history = trainer.fit(code.step(config, dev))
    if ctx.main:
        checkpoint.save(out, net, kind.name, config, history)
        resume.unlink(missing_ok=True)
