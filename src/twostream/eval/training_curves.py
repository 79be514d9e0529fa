"""Training curves: loss, training and validation accuracy and learning rate over a run, from checkpoints' histories.

Every trainer (``train.engine.Trainer``) records history rows several times per epoch (``step``,
``epoch``: the steps done in epochs, ``loss``, ``lr``, ``acc`` and the step's other means, and ``val_acc``
at epoch ends and every ``train.validate_every`` steps where the dataset has a validation split) and the
checkpoint keeps them. The figure has one column per model kind present (``twostream.kinds``, in the
table's order) and one row per quantity, one line per run, the validation accuracy dashed beside the
training accuracy. CMA iterations continue each other, so they are drawn one after another (iteration n
from where n-1 ended), a dashed vertical line where each starts. The plotted numbers are the table
``curves`` returns (written as CSV beside the PNG), and optionally TensorBoard event files.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure  # the object API: no pyplot state, no GUI backend

from twostream.files import atomic_path
from twostream.kinds import KINDS

QUANTITIES = {"loss": "training loss", "acc": "training accuracy", "lr": "learning rate"}
VALIDATION = "val_acc"  # validation accuracy, on rows where the run validated (NaN otherwise); drawn with acc
COLUMNS = ["run", "kind", "step", "epoch", "start", "x", *QUANTITIES, VALIDATION]
Run = tuple[str, list[dict[str, float]], dict]  # (model kind, history, checkpoint config)


def starts(runs: dict[str, Run]) -> dict[str, float]:
    """Where each run begins on its kind's axis, in epochs: CMA iteration n where iteration n-1 ended, others at 0."""
    out = {name: 0.0 for name in runs}
    end = 0.0
    for _, name in sorted((config["iteration"], name) for name, (kind, _, config) in runs.items()
                          if kind == "cma"):
        out[name] = end
        end += runs[name][1][-1]["epoch"] if runs[name][1] else 0.0
    return out


def curves(runs: dict[str, Run]) -> pd.DataFrame:
    """One row per run and history row: run, kind, step, epoch, start (the run's), x = start + epoch, loss, acc, lr,
    val_acc (runs in the order given)."""
    rows = []
    begin = starts(runs)
    for name, (kind, history, _) in runs.items():
        if kind not in KINDS:
            raise ValueError(f"{name}: unknown model kind {kind!r}")
        for h in history:
            missing = [q for q in ("step", "epoch", *QUANTITIES) if q not in h]
            if missing:
                raise ValueError(f"{name}: history lacks {', '.join(missing)}")
            rows.append({"run": name, "kind": kind, "step": int(h["step"]), "epoch": float(h["epoch"]),
                         "start": begin[name], "x": begin[name] + float(h["epoch"]),
                         **{q: float(h[q]) for q in QUANTITIES}, VALIDATION: float(h.get(VALIDATION, float("nan")))})
    return pd.DataFrame(rows, columns=COLUMNS)


def draw(table: pd.DataFrame, title: str) -> Figure:
    """Rows: loss, training accuracy, learning rate; columns: the model kinds present; one line per run (a run that
    continues another, from where that one ended, a dashed line at its start)."""
    kinds = [k for k in KINDS if k in set(table["kind"])]
    if not kinds:
        raise ValueError("no training history to draw")
    fig = Figure(figsize=(4.5 * len(kinds), 8), layout="constrained")
    axes = fig.subplots(len(QUANTITIES), len(kinds), squeeze=False, sharex="col")
    for col, kind in enumerate(kinds):
        for run, rows in table[table["kind"] == kind].groupby("run", sort=False):
            for row, q in enumerate(QUANTITIES):
                line, = axes[row, col].plot(rows["x"], rows[q], marker=".", markersize=3, label=run)
                validated = rows.dropna(subset=[VALIDATION])
                if q == "acc" and not validated.empty:
                    axes[row, col].plot(validated["x"], validated[VALIDATION], linestyle="--", marker="x",
                                        color=line.get_color(), label=f"{run} (validation)")
                if rows["start"].iloc[0] > 0:
                    axes[row, col].axvline(rows["start"].iloc[0], color="grey", linestyle="--", linewidth=0.8)
            if rows["start"].iloc[0] > 0:
                axes[0, col].annotate(run.rsplit("/", 1)[-1], (rows["start"].iloc[0], 1), xycoords=("data", "axes fraction"),
                                      xytext=(2, -2), textcoords="offset points", va="top", fontsize="x-small")
        axes[0, col].set_title(KINDS[kind].label)
        axes[0, col].legend(fontsize="small")
        chained = (table[table["kind"] == kind]["start"] > 0).any()
        axes[-1, col].set_xlabel("epoch (one run after another)" if chained else "epoch")
        axes[-1, col].set_yscale("log")  # the last row: the learning rate, divided by 10 at steps
        for row, label in enumerate(QUANTITIES.values()):
            axes[row, col].set_ylabel(label if row != 1 else "accuracy (dashed: validation)")
            axes[row, col].grid(alpha=0.3)
    fig.suptitle(title)
    return fig


def save_png(fig: Figure, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)


def write_tensorboard(table: pd.DataFrame, logdir: str | os.PathLike) -> bool:
    """Event files under ``logdir/<run>`` (scalars loss, acc, lr, val_acc at each row's step); False where tensorboard is
    missing.

    The folder is written under a temporary name and then replaces the old one.
    """
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # torch's writer needs the tensorboard package
        return False
    logdir = Path(logdir)
    tmp = logdir.with_name(f".{logdir.name}.tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        for run, rows in table.groupby("run", sort=False):
            with SummaryWriter(str(tmp / run)) as writer:
                for r in rows.itertuples():
                    for q in (*QUANTITIES, VALIDATION):
                        if pd.notna(getattr(r, q)):
                            writer.add_scalar(q, getattr(r, q), r.step)
        shutil.rmtree(logdir, ignore_errors=True)
        os.replace(tmp, logdir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return True
