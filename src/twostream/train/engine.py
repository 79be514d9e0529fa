"""The training loop shared by every stage: SGD, a step schedule, resumable checkpoints.

Determinism: the batch order of epoch e is a permutation seeded by (seed, e); the
sample augmentation is seeded by (seed, e, item); dropout by (seed, step). So a run
that is killed and resumed from its last checkpoint ends exactly where an
uninterrupted run ends (on the same device and precision). Checkpoints are written
atomically to ``<out>.resume`` every ``checkpoint_every`` steps, at every epoch end and
on SIGTERM, and deleted once the final weights are written.

History: a row every ``record_every`` steps (about RECORDS_PER_EPOCH per epoch, each step where an epoch has
fewer), at every epoch end and every ``watch.every`` steps (the rows a watch validates), so a short run is a
curve too: ``step`` (steps done), ``epoch`` (the same in epochs), ``steps`` (steps the row averages), ``loss``,
``lr``, ``seconds``, the step's other means, and ``val_acc`` on validated rows. Rows never straddle an epoch
end; the epoch's mean (its log line, the plateau rule) is the step-weighted mean of its rows.

The learning rate is divided by 10 at the milestones and, with ``plateau_patience``, when the epoch
loss stalls, kept in the checkpointed state. Not ``torch.optim.lr_scheduler``: its schedulers multiply
by 0.1 (0.01 * 0.1 = 0.0010000000000000002, not 0.001), which would change every trained weight
against the runs published so far, for no gain in what the schedule does.

Speed: one DataLoader (and its workers, persistent, prefetching across epoch ends) serves
the whole run; its sampler yields (epoch, item) keys in the order above, so workers need no
``set_epoch`` from the main process. Batches are pinned and copied without blocking; the
loss and metrics are summed on the device and read once per history row, per checkpoint and per
progress refresh (every ``LOG_SECONDS``, rank 0's own running loss), never per step; under DDP
they are averaged over processes at rows and checkpoints only.
Precision, channels-last and cuDNN: ``twostream.precision``.
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

from twostream.data.batches import to_device
from twostream.models.checkpoint import save_atomic
from twostream import precision
from twostream.train.distributed import Context, barrier, sum_over_processes, sync_batchnorm, wrap
from twostream.train.watch import Watch

# A step returns the loss and logs (tensors on the device, or floats) averaged by the Trainer per history row.
StepFn = Callable[[nn.Module, dict[str, Any]], tuple[torch.Tensor, dict[str, torch.Tensor | float]]]
LOG_SECONDS = 5.0  # progress-bar loss refresh (one host sync each)
RECORDS_PER_EPOCH = 8  # history rows per epoch (one per step where an epoch has fewer steps)


@dataclass
class Schedule:
    """A run in optimiser steps (``train.run.schedule`` turns a spec's epochs or steps into this)."""

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
    precision: str  # auto | bf16 | fp16 | fp32 (twostream.precision)
    compile: bool  # torch.compile the network a step calls
    prefetch: int  # batches each loader worker keeps ready


def sgd(params: list[nn.Parameter], schedule: Schedule, device: torch.device) -> torch.optim.SGD:
    """The schedule's SGD: fused on CUDA (one kernel for every parameter; a GradScaler's overflow check stays on
    the device), foreach elsewhere (the same numbers as the per-parameter loop: CPU results are unchanged)."""
    fused = device.type == "cuda"
    return torch.optim.SGD(params, lr=schedule.lr, momentum=schedule.momentum, weight_decay=schedule.weight_decay,
                           foreach=not fused, fused=fused)


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


class RunOrder(Sampler[list[tuple[int, int]]]):
    """The batches of steps [start, steps) of a run as (epoch, item) keys, epoch after epoch in ``BatchOrder``."""

    def __init__(self, n: int, batch_size: int, seed: int, start: int, steps: int, rank: int = 0, world: int = 1):
        self.args = n, batch_size, seed, rank, world
        self.per_epoch = n // batch_size
        self.start, self.steps = start, steps

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        n, batch_size, seed, rank, world = self.args
        step = self.start
        while step < self.steps:
            epoch, first = divmod(step, self.per_epoch)
            for batch in BatchOrder(n, batch_size, seed, epoch, first, rank, world):
                yield [(epoch, i) for i in batch]
                step += 1
                if step >= self.steps:
                    return

    def __len__(self) -> int:
        return max(self.steps - self.start, 0)


class EpochItems(torch.utils.data.Dataset):
    """``dataset[(epoch, i)]`` = item i of ``dataset`` at ``epoch`` (set in whichever process loads it)."""

    def __init__(self, dataset: Any):
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key: tuple[int, int]) -> Any:
        epoch, i = key
        self.dataset.set_epoch(epoch)
        return self.dataset[i]


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
    A dataset with a ``to_device(batch, device)`` method finishes its batches on the device
    (GPU JPEG decoding); others are copied there with ``to_device``. A ``watch``
    (``twostream.train.watch``) gets each history row as it is recorded, on rank 0, and validates at every
    epoch end and, with ``watch.every``, every that many steps (a row ends there too).
    """

    def __init__(self, model: nn.Module, params: list[nn.Parameter], dataset: Any, schedule: Schedule, *,
                 seed: int, resume: Path, run_id: Any, device: torch.device, ctx: Context = Context(),
                 watch: Watch | None = None):
        self.model, self.dataset, self.s = model, dataset, schedule
        self.seed, self.resume, self.device = seed, Path(resume), device
        self.ctx, self.rank, self.world = ctx, ctx.rank, ctx.world
        self.precision = precision.resolve(schedule.precision, device)
        precision.place(model, device)
        self.net = wrap(sync_batchnorm(model, device), ctx, device) if ctx.world > 1 else model
        if schedule.compile:
            self.net = torch.compile(self.net)
        self.steps_per_epoch = len(dataset) // schedule.batch_size
        if self.steps_per_epoch == 0:
            raise ValueError(f"{len(dataset)} training videos is less than one batch of {schedule.batch_size}")
        self.record_every = max(self.steps_per_epoch // RECORDS_PER_EPOCH, 1)
        self.opt = sgd(params, schedule, device)
        self.scaler = precision.scaler(device, self.precision)
        self.params = params
        self.move = getattr(dataset, "to_device", to_device)
        resolved = {**asdict(schedule), "precision": self.precision, "workers": None, "prefetch": None}
        self.id = fingerprint({"run": run_id, "schedule": resolved, "seed": seed})
        self.state = {"step": 0, "lr": schedule.lr, "history": [], "best_loss": math.inf, "bad_epochs": 0,
                      "sums": {}, "count": 0, "seconds": 0.0}  # the last three: the history row so far
        self.sums: dict[str, torch.Tensor] = {}  # the row's sums on the device (this process's share)
        self.watch = watch

    def _load(self) -> None:
        if not self.resume.is_file():
            return
        ckpt = torch.load(self.resume, map_location=self.device, weights_only=False)
        if ckpt.get("id") != self.id:
            self._log(f"{self.resume}: belongs to another configuration; starting afresh")
            return
        self.model.load_state_dict(ckpt["model"])
        self.opt.load_state_dict(ckpt["optimizer"])
        self.scaler.load_state_dict(ckpt["scaler"])
        self.state = ckpt["state"]
        self._log(f"resumed from {self.resume} at step {self.state['step']}")

    def _save(self) -> None:
        self._sync_sums()
        if self.rank == 0:
            save_atomic({"id": self.id, "model": self.model.state_dict(), "optimizer": self.opt.state_dict(),
                         "scaler": self.scaler.state_dict(), "state": self.state}, self.resume)
        barrier(self.ctx)

    def _log(self, msg: str) -> None:
        if self.rank == 0:
            print(msg, file=sys.stderr, flush=True)

    def _set_lr(self) -> None:
        for group in self.opt.param_groups:
            group["lr"] = self.state["lr"]

    def _accumulate(self, loss: torch.Tensor, logs: dict[str, torch.Tensor | float]) -> None:
        """Add a step's loss and logs to the device sums (no host sync)."""
        for k, v in {"loss": loss, **logs}.items():
            v = v.detach().to(torch.float64) if isinstance(v, torch.Tensor) else v
            if k not in self.sums:
                self.sums[k] = torch.zeros((), dtype=torch.float64, device=self.device)
            self.sums[k] += v
        self.state["count"] += 1

    def _sync_sums(self) -> None:
        """Read the device sums into ``state`` (averaged over processes), one host sync; each process keeps the mean."""
        if not self.sums:
            return
        names = list(self.sums)
        total = sum_over_processes(torch.stack([self.sums[k] for k in names]), self.ctx) / self.world
        self.state["sums"] = dict(zip(names, total.cpu().tolist()))
        self.sums = dict(zip(names, total.unbind()))

    def _restore_sums(self) -> None:
        self.sums = {k: torch.tensor(v, dtype=torch.float64, device=self.device) for k, v in self.state["sums"].items()}

    def _means(self) -> dict[str, float]:
        self._sync_sums()
        return {k: v / max(self.state["count"], 1) for k, v in self.state["sums"].items()}

    def _record(self, step: int, seconds: float, validate: bool) -> None:
        """Close the history row that ends after ``step`` steps: the means of its steps (handed to the watch on
        rank 0, which adds the validation accuracy where ``validate``)."""
        mean = self._means()
        row = {"step": step, "epoch": step / self.steps_per_epoch, "steps": self.state["count"],
               "loss": mean.pop("loss"), "lr": self.state["lr"], "seconds": seconds, **mean}
        if self.watch is not None and self.rank == 0:
            row = self.watch.record(row, self.state["history"], self.s.steps, validate=validate)
        self.state["history"].append(row)
        self.state.update(sums={}, count=0, seconds=0.0)
        self.sums = {}

    def _epoch_end(self, epoch: int) -> None:
        """Log the epoch's means (step-weighted over its rows) and apply the plateau rule to its loss."""
        rows = [h for h in self.state["history"] if (h["step"] - 1) // self.steps_per_epoch == epoch]
        steps = sum(h["steps"] for h in rows)
        keys = [k for k in rows[-1] if k not in ("step", "epoch", "steps", "lr", "seconds", "val_acc")]
        mean = {k: sum(h[k] * h["steps"] for h in rows) / steps for k in keys}
        loss = mean.pop("loss")
        if "val_acc" in rows[-1]:
            mean["val_acc"] = rows[-1]["val_acc"]
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
                  + f" lr {self.state['lr']:g} ({sum(h['seconds'] for h in rows):.1f} s)")

    def fit(self, step_fn: StepFn) -> list[dict[str, float]]:
        """Train to the end of the schedule (resuming if a matching checkpoint exists); returns the history."""
        self._load()
        stop = _Stop()
        if self.watch is not None and self.rank == 0:
            self.watch.start(self.state["step"], self.state["history"])
        try:
            self._run(step_fn, stop)
        finally:
            stop.restore()
            if self.watch is not None and self.rank == 0:
                self.watch.close()
        return self.state["history"]

    def loader(self) -> DataLoader:
        """One loader for the rest of the run: batches of steps [state step, steps), workers started once."""
        s = self.s
        order = RunOrder(len(self.dataset), s.batch_size, self.seed, self.state["step"], s.steps, self.rank,
                         self.world)
        workers = {"persistent_workers": True, "prefetch_factor": s.prefetch} if s.workers else {}
        return DataLoader(EpochItems(self.dataset), batch_sampler=order, num_workers=s.workers,
                          pin_memory=self.device.type == "cuda", collate_fn=getattr(self.dataset, "collate", None),
                          **workers)

    def train_step(self, step_fn: StepFn, batch: dict[str, Any]) -> tuple[torch.Tensor, dict[str, Any]]:
        """One optimiser step on a batch already on the device: autocast forward, (scaled) backward, clip, step."""
        with precision.autocast(self.device, self.precision):
            loss, logs = step_fn(self.net, batch)
        self.opt.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if self.s.clip_grad:
            self.scaler.unscale_(self.opt)
            nn.utils.clip_grad_norm_(self.params, self.s.clip_grad)
        self.scaler.step(self.opt)
        self.scaler.update()
        return loss, logs

    def _run(self, step_fn: StepFn, stop: _Stop) -> None:
        total = self.s.steps
        bar = tqdm(total=total, initial=self.state["step"], desc="train", unit="step", file=sys.stderr,
                   disable=self.rank != 0, mininterval=5 if not sys.stderr.isatty() else 0.1)
        self._restore_sums()
        self.model.train()
        t0 = shown = time.time()
        for batch in self.loader():
            step = self.state["step"]
            if step in self.s.milestones:
                self.state["lr"] /= 10
            self._set_lr()
            torch.manual_seed(int(np.random.SeedSequence([self.seed, step]).generate_state(1)[0]))
            loss, logs = self.train_step(step_fn, self.move(batch, self.device))
            self._accumulate(loss, logs)
            self.state["step"] = step = step + 1
            bar.update(1)
            if self.rank == 0 and time.time() - shown >= LOG_SECONDS:  # this process's running loss: no collective
                loss = self.sums["loss"].item() / self.state["count"]
                bar.set_postfix(loss=f"{loss:.3f}", lr=f"{self.state['lr']:g}", refresh=False)
                shown = time.time()
            epoch_end = step % self.steps_per_epoch == 0 or step >= total
            validate = epoch_end or bool(self.watch and self.watch.every and step % self.watch.every == 0)
            if validate or (step % self.steps_per_epoch) % self.record_every == 0:
                self._record(step, self.state["seconds"] + time.time() - t0, validate)
                t0 = time.time()
            if epoch_end:
                self._epoch_end((step - 1) // self.steps_per_epoch)
                self._save()
            elif stop.requested or (self.s.checkpoint_every and step % self.s.checkpoint_every == 0):
                self.state["seconds"] += time.time() - t0
                t0 = time.time()
                self._save()
            if stop.requested:
                self._log(f"SIGTERM: checkpoint saved to {self.resume} at step {step}; exiting")
                sys.exit(143)
        bar.close()


def accuracy(scores: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Fraction of correct top-1 predictions, as a device tensor (read by the Trainer per epoch)."""
    return (scores.argmax(dim=1) == target).float().mean()
