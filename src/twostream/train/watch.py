"""Training you can watch as it runs: validation accuracy, the history as CSV, TensorBoard events, console lines.

A ``Watch`` is handed each history row as the Trainer records it (several per epoch, ``train.engine``): at
every epoch end and every ``validate_every`` steps it adds ``val_acc``, the top-1 accuracy on the dataset's
validation split of the model's summed outputs (where the split has videos); at every row it rewrites ``<checkpoint>.history.csv`` with
every row so far, adds the row's scalars to TensorBoard event files under ``<checkpoint>.events/``
(where the ``tensorboard`` package is installed; flushed at once, so ``tensorboard --logdir models/``
shows a run in progress; a resumed run purges the events after its resume step), and on validated rows
prints one line to stdout (the rule's console). Validation runs the unwrapped network in eval mode under
``torch.random.fork_rng``, so the training's random streams, and so its weights, are those of a run
without it; it is rank 0's alone under DDP.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from twostream.files import write_csv

Validate = Callable[[], float]  # top-1 accuracy on the validation split


def history_csv(checkpoint: str | Path) -> Path:
    """The history CSV written beside a checkpoint while it trains."""
    return Path(checkpoint).with_suffix(".history.csv")


def events_dir(checkpoint: str | Path) -> Path:
    """The TensorBoard event folder written beside a checkpoint while it trains."""
    return Path(checkpoint).with_suffix(".events")


def validator(net: torch.nn.Module, scored: Any, data: Any, device: torch.device, *, batch_size: int,
              precision: str) -> Validate:
    """A ``Validate`` of ``net`` on ``data`` (a test-mode TSNDataset): top-1 of the sum of the scorer's outputs."""
    from twostream.eval.predict import predict

    modalities, score = scored

    def validate() -> float:
        devices = [device] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            training = net.training
            net.eval()
            try:
                out = predict(score, data, modalities, device, batch_size=batch_size, workers=0, precision=precision,
                              progress=False)
            finally:
                net.train(training)
        labels = out.pop("label")
        total = sum(out.values())
        return float(np.mean(np.argmax(total, axis=1) == labels))

    return validate


class Watch:
    """What a run shows as it goes (see the module docstring); ``name`` prefixes its console lines."""

    def __init__(self, checkpoint: str | Path, name: str, validate: Validate | None, every: int):
        self.csv, self.events, self.name = history_csv(checkpoint), events_dir(checkpoint), name
        self.validate, self.every = validate, every
        self.writer: Any = None

    def start(self, step: int, history: list[dict[str, Any]]) -> None:
        """Before the first step (``step`` > 0: resumed there, with ``history`` so far): the event files, from there."""
        self.writer = _writer(self.events, step)
        if history:
            write_csv(pd.DataFrame(history), self.csv)

    def record(self, row: dict[str, Any], history: list[dict[str, Any]], steps: int, *,
               validate: bool = True) -> dict[str, Any]:
        """``row`` (with ``val_acc`` added where ``validate``), written out with the ``history`` before it; ``steps``:
        the run's total."""
        if validate and self.validate is not None:
            row = {**row, "val_acc": self.validate()}
        write_csv(pd.DataFrame([*history, row]), self.csv)
        if self.writer is not None:
            for key, value in row.items():
                if key not in ("epoch", "step", "steps", "seconds") and isinstance(value, (int, float)) and math.isfinite(value):
                    self.writer.add_scalar(key, value, row["step"])
            self.writer.flush()
        if validate:
            shown = " ".join(f"{k} {row[k]:.4f}" for k in row if k not in ("epoch", "step", "steps", "seconds", "lr"))
            print(f"{self.name}: step {row['step']}/{steps} (epoch {row['epoch']:g}) {shown} lr {row['lr']:g}",
                  flush=True)
        return row

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def _writer(folder: Path, resume_step: int) -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # torch's writer needs the tensorboard package
        return None
    return SummaryWriter(str(folder), purge_step=resume_step or None)

