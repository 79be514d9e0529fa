"""The training loop shared by every stage: SGD, a step schedule, resumable checkpoints.

Determinism: the batch order of epoch e is a permutation seeded by (seed, e); the
sample augmentation is seeded by (seed, e, item); dropout by (seed, step). So a run
that is killed and resumed from its last checkpoint ends exactly where an
uninterrupted run ends (on the same device). Checkpoints are written atomically to
``<out>.resume`` every ``checkpoint_every`` steps, at every epoch end and on SIGTERM,
and deleted once the final weights are written.
"""

from __future__ import annotations

import hashlib
import json
import math
import signal
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, Sampler
from tqdm import tqdm

from twostream.models.checkpoint import save_atomic
from twostream.train.distributed import Context, barrier, mean_over_processes, sync_batchnorm, wrap

StepFn = Callable[[nn.Module, dict[str, Any]], tuple[torch.Tensor, dict[str, float]]]


@dataclass
class Schedule:
    """A run in optimiser steps (``schedule.plan`` turns the config's epochs or iterations into this)."""

    steps: int  # total optimiser steps
    lr: float
    batch_size: int
    milestones: list[int]  # steps at which lr is divided by 10
    plateau_patience: int  # > 0: also divide lr by 10 when the epoch loss has not improved for this many epochs
    momentum: float
    weight_decay: float
    clip_grad: float  # max gradient norm; 0 disables
    workers: int
    checkpoint_every: int  # steps between mid-epoch checkpoints; 0: epoch ends only


class BatchOrder(Sampler[list[int]]):
    """Batches of one epoch in a (seed, epoch)-seeded order, from batch ``start``; rank r of w takes slice r of each."""

    def __init__(self, n: int, batch_size: int, seed: int, epoch: int, start: int = 0, rank: int = 0, world: int = 1):
        if batch_size % world:
            raise ValueError(f"batch size {batch_size} is not divisible by {world} processes")
        perm = np.random.default_rng([seed, epoch]).permutation(n)
        self.batches = [perm[b * batch_size:(b + 1) * batch_size] for b in range(start, n // batch_size)]
        self.per_rank = batch_size // world
        self.rank = rank

    def __iter__(self) -> Iterator[list[int]]:
        for batch in self.batches:
            yield batch[self.rank * self.per_rank:(self.rank + 1) * self.per_rank].tolist()

    def __len__(self) -> int:
        return len(self.batches)


def fingerprint(obj: Any) -> str:
    """A short hash of a JSON-serialisable description of a run (resume only matching runs)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


class _Stop:
    """Turns SIGTERM (a scheduler's pre-emption) into a checkpoint and a clean exit."""

    def __init__(self) -> None:
        self.requested = False
        self._previous = signal.signal(signal.SIGTERM, self._handle)

    def _handle(self, signum: int, frame: Any) -> None:
        self.requested = True

    def restore(self) -> None:
        signal.signal(signal.SIGTERM, self._previous)


class Trainer:
    """Runs ``step_fn`` over a dataset for ``schedule.steps`` optimiser steps.

    Under torchrun (``ctx.world > 1``) BatchNorm layers are synchronised, the model that
    ``step_fn`` receives is wrapped in DDP, and each process takes its slice of every batch.
    """

    def __init__(self, model: nn.Module, params: list[nn.Parameter], dataset: Any, schedule: Schedule, *,
                 seed: int, resume: Path, run_id: Any, device: torch.device, ctx: Context = Context()):
        self.model, self.dataset, self.s = model, dataset, schedule
        self.seed, self.resume, self.device = seed, Path(resume), device
        self.ctx, self.rank, self.world = ctx, ctx.rank, ctx.world
        self.net = wrap(sync_batchnorm(model, device), ctx, device) if ctx.world > 1 else model
        self.steps_per_epoch = len(dataset) // schedule.batch_size
        if self.steps_per_epoch == 0:
            raise ValueError(f"{len(dataset)} training videos is less than one batch of {schedule.batch_size}")
        self.opt = torch.optim.SGD(params, lr=schedule.lr, momentum=schedule.momentum,
                                   weight_decay=schedule.weight_decay)
        self.params = params
        self.id = fingerprint({"run": run_id, "schedule": asdict(schedule), "seed": seed})
        self.state = {"step": 0, "lr": schedule.lr, "history": [], "best_loss": math.inf, "bad_epochs": 0,
                      "losses": [], "metrics": {}, "seconds": 0.0}  # the last three: the epoch so far

    def _load(self) -> None:
        if not self.resume.is_file():
            return
        ckpt = torch.load(self.resume, map_location=self.device, weights_only=False)
        if ckpt.get("id") != self.id:
            self._log(f"{self.resume}: belongs to another configuration; starting afresh")
            return
        self.model.load_state_dict(ckpt["model"])
        self.opt.load_state_dict(ckpt["optimizer"])
        self.state = ckpt["state"]
        self._log(f"resumed from {self.resume} at step {self.state['step']}")

    def _save(self) -> None:
        if self.rank == 0:
            save_atomic({"id": self.id, "model": self.model.state_dict(), "optimizer": self.opt.state_dict(),
                         "state": self.state}, self.resume)
        barrier(self.ctx)

    def _log(self, msg: str) -> None:
        if self.rank == 0:
            print(msg, file=sys.stderr, flush=True)

    def _set_lr(self) -> None:
        for group in self.opt.param_groups:
            group["lr"] = self.state["lr"]

    def _epoch_end(self, epoch: int) -> None:
        mean = {k: float(np.mean(v)) for k, v in self.state["metrics"].items()}
        loss, seconds = float(np.mean(self.state["losses"])), self.state["seconds"]
        self.state["history"].append({"epoch": epoch, "loss": loss, "lr": self.state["lr"], "seconds": seconds, **mean})
        self.state.update(losses=[], metrics={}, seconds=0.0)
        if self.s.plateau_patience:
            if loss < self.state["best_loss"] - 1e-4:
                self.state["best_loss"], self.state["bad_epochs"] = loss, 0
            else:
                self.state["bad_epochs"] += 1
                if self.state["bad_epochs"] >= self.s.plateau_patience:
                    self.state["lr"] /= 10
                    self.state["bad_epochs"] = 0
                    self._log(f"loss plateau: lr -> {self.state['lr']:g}")
        self._log(f"epoch {epoch}: loss {loss:.4f} " + " ".join(f"{k} {v:.4f}" for k, v in mean.items())
                  + f" lr {self.state['lr']:g} ({seconds:.1f} s)")

    def fit(self, step_fn: StepFn) -> list[dict[str, float]]:
        """Train to the end of the schedule (resuming if a matching checkpoint exists); returns the epoch history."""
        self._load()
        stop = _Stop()
        try:
            self._run(step_fn, stop)
        finally:
            stop.restore()
        return self.state["history"]

    def _run(self, step_fn: StepFn, stop: _Stop) -> None:
        s, total = self.s, self.s.steps
        bar = tqdm(total=total, initial=self.state["step"], desc="train", unit="step", file=sys.stderr,
                   disable=self.rank != 0, mininterval=5 if not sys.stderr.isatty() else 0.1)
        while self.state["step"] < total:
            epoch, start = divmod(self.state["step"], self.steps_per_epoch)
            self.dataset.set_epoch(epoch)
            order = BatchOrder(len(self.dataset), s.batch_size, self.seed, epoch, start, self.rank, self.world)
            loader = DataLoader(self.dataset, batch_sampler=order, num_workers=s.workers, pin_memory=False)
            t0 = time.time()
            self.model.train()
            for batch in loader:
                step = self.state["step"]
                if step in s.milestones:
                    self.state["lr"] /= 10
                self._set_lr()
                torch.manual_seed(int(np.random.SeedSequence([self.seed, step]).generate_state(1)[0]))
                loss, logs = step_fn(self.net, batch)
                self.opt.zero_grad(set_to_none=True)
                loss.backward()
                if s.clip_grad:
                    nn.utils.clip_grad_norm_(self.params, s.clip_grad)
                self.opt.step()
                self.state["step"] = step + 1
                self.state["losses"].append(mean_over_processes(loss.item(), self.ctx))
                for k, v in logs.items():
                    self.state["metrics"].setdefault(k, []).append(mean_over_processes(v, self.ctx))
                bar.update(1)
                bar.set_postfix(loss=f"{loss.item():.3f}", lr=f"{self.state['lr']:g}", refresh=False)
                if stop.requested or (s.checkpoint_every and self.state["step"] % s.checkpoint_every == 0):
                    self.state["seconds"] += time.time() - t0
                    t0 = time.time()
                    self._save()
                if stop.requested:
                    self._log(f"SIGTERM: checkpoint saved to {self.resume} at step {self.state['step']}; exiting")
                    sys.exit(143)
                if self.state["step"] >= total:
                    break
            self.state["seconds"] += time.time() - t0
            if self.state["step"] % self.steps_per_epoch == 0 or self.state["step"] >= total:
                self._epoch_end(epoch)
            self._save()
        bar.close()


def accuracy(scores: torch.Tensor, target: torch.Tensor) -> float:
    return (scores.argmax(dim=1) == target).float().mean().item()

