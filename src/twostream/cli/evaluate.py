"""``twostream evaluate``: per-video test scores of a trained model (segments x crops)."""

from __future__ import annotations

import argparse

from twostream.cli import common
from twostream.data.dataset import TSNDataset, select
from twostream.eval.predict import predict, save_scores
from twostream.eval.scorers import from_checkpoint
from twostream.train.engine import device


def add_arguments(p: argparse.ArgumentParser) -> None:
    common.add_data_arguments(p)
    p.add_argument("--model", required=True, help="trained checkpoint")
    p.add_argument("--crops", type=int, default=10, help="1 (centre), 5 (corners + centre) or 10 (and flips; with --no-hflip the 5 unflipped)")
    p.add_argument("--subset", choices=("test", "val"), default="test",
                   help="videos to score: the split's test list, or its validation list (for tuning)")
    p.add_argument("--out", required=True, help="scores .npz")


def run(args: argparse.Namespace) -> int:
    common.setup(args)
    dev = device(args.device)
    modalities, scorer = from_checkpoint(args.model, dev)
    videos = select(common.read_index(args.index), args.split, args.subset)
    if videos.empty:
        raise SystemExit(f"{args.index}: split {args.split} has no {args.subset} videos")
    data = TSNDataset(videos, modalities, segments=args.segments, length=args.length, crop=args.crop,
                      train=False, hflip=args.hflip, crops=args.crops, decode=common.decode(args, dev))
    scores = predict(scorer, data, modalities, dev, batch_size=args.batch_size, workers=args.workers,
                     precision=args.precision)
    save_scores(args.out, videos["video_id"].tolist(), scores)
    return 0
