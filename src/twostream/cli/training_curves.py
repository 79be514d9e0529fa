"""``twostream training-curves``: loss, training accuracy and learning rate over the run of every checkpoint.

Writes the figure (PNG), the plotted numbers beside it (CSV), and TensorBoard event files where
the ``tensorboard`` package is installed.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from twostream.eval import training_curves
from twostream.files import write_csv
from twostream.models import checkpoint


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", required=True)
    p.add_argument("--checkpoints", nargs="+", required=True, help="trained checkpoints (.pt) of the dataset")
    p.add_argument("--root", required=True, help="folder the runs are named relative to (models/<dataset>)")
    p.add_argument("--out", required=True, help="figure PNG (CSV of the plotted numbers written beside it)")
    p.add_argument("--tensorboard", help="folder for TensorBoard event files (skipped without tensorboard)")


def run_name(path: str, root: str) -> str:
    """A checkpoint's path below ``root``, without .pt (e.g. split1/cma/iter2)."""
    return os.path.relpath(path, root).removesuffix(".pt")


def run(args: argparse.Namespace) -> int:
    runs = {}
    for path in args.checkpoints:
        ckpt = checkpoint.load(path)
        runs[run_name(path, args.root)] = (ckpt["kind"], ckpt["history"], ckpt["config"])
    table = training_curves.curves(runs)
    write_csv(table, Path(args.out).with_suffix(".csv"))
    training_curves.save_png(training_curves.draw(table, f"Training on {args.dataset}"), args.out)
    if args.tensorboard:
        written = training_curves.write_tensorboard(table, args.tensorboard)
        print(f"TensorBoard event files in {args.tensorboard}" if written else "tensorboard not installed: no event files")
    print(table.groupby("run", sort=False).last().to_string())
    return 0
