"""``twostream evaluate``: per-video test scores of a trained model of any kind (segments x crops)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import torch

from twostream import kinds
from twostream.cli import common
from twostream.cli.spec import add_spec
from twostream.data import batches
from twostream.data.dataset import TSNDataset, select
from twostream.eval.predict import predict, save_scores
from twostream.gpus import resolve_device


@dataclass(frozen=True)
class EvaluateSpec:
    """``eval.test_segments``, ``eval.crops``, ``eval.batch_size``; ``train.length``, ``train.workers``,
    ``train.device``, ``train.precision``, ``train.decode``; the dataset's ``crop`` and ``hflip``."""

    test_segments: int
    crops: int  # 1 (centre), 5 (corners + centre) or 10 (and their flips; without hflip the 5 unflipped)
    batch_size: int
    length: int
    workers: int
    device: str
    precision: str
    decode: str
    crop: int
    hflip: bool  # test flips follow the training flips (off for datasets whose labels depend on left/right)


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_spec(p, EvaluateSpec)
    common.add_run_arguments(p)
    p.add_argument("--model", required=True, help="trained checkpoint")
    p.add_argument("--subset", choices=("test", "val"), default="test",
                   help="videos to score: the split's test list, or its validation list (for tuning)")
    p.add_argument("--out", required=True, help="scores .npz")


def run(args: argparse.Namespace) -> int:
    spec: EvaluateSpec = args.spec
    common.set_threads(args.threads)
    dev = torch.device(resolve_device(spec.device))
    modalities, scorer = kinds.scorer(args.model, dev)
    videos = select(common.read_index(args.index), args.split, args.subset)
    if videos.empty:
        raise SystemExit(f"{args.index}: split {args.split} has no {args.subset} videos")
    data = TSNDataset(videos, modalities, segments=spec.test_segments, length=spec.length, crop=spec.crop,
                      train=False, hflip=spec.hflip, crops=spec.crops, decode=batches.resolve_decode(spec.decode, dev))
    scores = predict(scorer, data, modalities, dev, batch_size=spec.batch_size, workers=spec.workers,
                     precision=spec.precision)
    save_scores(args.out, videos["video_id"].tolist(), scores)
    return 0
