"""``twostream evaluate``: per-video test scores of a trained model of any kind (segments x crops)."""

from __future__ import annotations

import argparse

import torch

from twostream import kinds
from twostream.cli.common import add_run_arguments
from twostream.data import batches
from twostream.data.dataset import TSNDataset, read_index, select
from twostream.eval.predict import predict, save_scores
from twostream.gpus import resolve_device, set_threads
from twostream.specs import EvaluateSpec, add_spec


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_spec(p, EvaluateSpec)
    add_run_arguments(p)
    p.add_argument("--model", required=True, help="trained checkpoint")
    p.add_argument("--subset", choices=("test", "val"), default="test",
                   help="videos to score: the split's test list, or its validation list (for tuning)")
    p.add_argument("--out", required=True, help="scores .npz")


def run(args: argparse.Namespace) -> int:
    spec: EvaluateSpec = args.spec
    set_threads(args.threads)
    dev = torch.device(resolve_device(spec.device))
    modalities, scorer = kinds.scorer(args.model, dev)
    videos = select(read_index(args.index), args.split, args.subset)
    if videos.empty:
        raise SystemExit(f"{args.index}: split {args.split} has no {args.subset} videos")
    data = TSNDataset(videos, modalities, segments=spec.test_segments, length=spec.length, crop=spec.crop,
                      train=False, hflip=spec.hflip, crops=spec.crops, decode=batches.resolve_decode(spec.decode, dev))
    scores = predict(scorer, data, modalities, dev, batch_size=spec.batch_size, workers=spec.workers,
                     precision=spec.precision)
    save_scores(args.out, videos["video_id"].tolist(), scores)
    return 0
