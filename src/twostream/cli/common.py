"""Arguments shared by the training and evaluation commands."""

from __future__ import annotations

import argparse
import math
import os

import pandas as pd
import torch

from twostream.data import batches
from twostream.data.dataset import TSNDataset, select
from twostream.train import distributed, precision
from twostream.train.engine import Schedule


def add_data_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--index", required=True, help="shard index CSV of the dataset")
    p.add_argument("--split", type=int, default=1)
    p.add_argument("--segments", type=int, default=3, help="TSN segments per video")
    p.add_argument("--length", type=int, default=5, help="flow fields per stack")
    p.add_argument("--crop", type=int, default=224)
    p.add_argument("--hflip", action=argparse.BooleanOptionalAction, default=True,
                   help="random horizontal flips (off for datasets whose labels depend on left/right)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--workers", type=int, default=0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    p.add_argument("--device", default="auto")
    p.add_argument("--precision", choices=precision.PRECISIONS, default="auto",
                   help="autocast precision (auto: bf16 on CUDA, fp32 on CPU)")
    p.add_argument("--decode", choices=batches.DECODES, default="cpu",
                   help="JPEG decoding in the loader (cpu) or batched on the device (gpu; auto: gpu on CUDA)")


def add_schedule_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--lr", type=float, required=True)
    p.add_argument("--epochs", type=float, help="length in epochs (or give --iterations)")
    p.add_argument("--iterations", type=int, help="length in optimiser steps")
    p.add_argument("--lr-steps", type=float, nargs="*", default=[],
                   help="divide lr by 10 at these points (epochs with --epochs, steps with --iterations)")
    p.add_argument("--plateau-patience", type=int, default=0)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--weight-decay", type=float, default=5e-4)
    p.add_argument("--clip-grad", type=float, default=0.0)
    p.add_argument("--checkpoint-every", type=int, default=0, help="steps between mid-epoch checkpoints")
    p.add_argument("--compile", action=argparse.BooleanOptionalAction, default=False,
                   help="torch.compile the network a training step calls")
    p.add_argument("--prefetch", type=int, default=2, help="batches each loader worker keeps ready")


def setup(args: argparse.Namespace) -> None:
    """CPU threads, and the seed of the initial weights (torch seeds each process at random otherwise).

    ``--threads`` is the job's: under torchrun each of its processes on this node takes an equal share.
    """
    if args.threads:
        torch.set_num_threads(max(1, args.threads // int(os.environ.get("LOCAL_WORLD_SIZE", 1))))
    torch.manual_seed(args.seed)


def process(args: argparse.Namespace) -> tuple[distributed.Context, torch.device]:
    """This process's place in a torchrun job (a single process otherwise) and its device."""
    return distributed.process(args.device)


def read_index(path: str) -> pd.DataFrame:
    return pd.read_csv(path, keep_default_na=False)


def num_classes(index: pd.DataFrame) -> int:
    return int(index["label"].max()) + 1


def decode(args: argparse.Namespace, device: torch.device) -> str:
    """Where the loader's JPEGs are decoded for this device (``--decode auto`` resolved)."""
    return batches.resolve_decode(args.decode, device)


def train_dataset(args: argparse.Namespace, index: pd.DataFrame, modalities: tuple[str, ...],
                  device: torch.device) -> TSNDataset:
    return TSNDataset(select(index, args.split, "train"), modalities, segments=args.segments, length=args.length,
                      crop=args.crop, train=True, hflip=args.hflip, seed=args.seed, decode=decode(args, device))


def schedule(args: argparse.Namespace, n_train: int) -> Schedule:
    """Turn epoch- or step-based arguments into a step schedule."""
    per_epoch = max(n_train // args.batch_size, 1)
    if (args.epochs is None) == (args.iterations is None):
        raise SystemExit("give exactly one of --epochs and --iterations")
    if args.epochs is not None:
        steps = math.ceil(args.epochs * per_epoch)
        milestones = [round(e * per_epoch) for e in args.lr_steps]
    else:
        steps, milestones = args.iterations, [int(s) for s in args.lr_steps]
    return Schedule(steps=steps, lr=args.lr, batch_size=args.batch_size, milestones=milestones,
                    plateau_patience=args.plateau_patience, momentum=args.momentum,
                    weight_decay=args.weight_decay, clip_grad=args.clip_grad, workers=args.workers,
                    checkpoint_every=args.checkpoint_every, precision=args.precision, compile=args.compile,
                    prefetch=args.prefetch)
