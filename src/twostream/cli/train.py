"""``twostream train``: train one stream (RGB or flow) with TSN sampling and cross-entropy."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import torch.nn.functional as F

from twostream.cli import common
from twostream.data.transforms import to_input
from twostream.models import checkpoint
from twostream.models.streams import tsn_forward
from twostream.train.engine import Trainer, accuracy


def add_arguments(p: argparse.ArgumentParser) -> None:
    common.add_data_arguments(p)
    common.add_schedule_arguments(p)
    p.add_argument("--modality", choices=("rgb", "flow"), required=True)
    p.add_argument("--depth", type=int, default=50, help="ResNet depth")
    p.add_argument("--pretrained", default="none", help="none | imagenet | path to a state dict")
    p.add_argument("--torch-home", default="", help="weights cache (TORCH_HOME) for --pretrained imagenet")
    p.add_argument("--dropout", type=float, default=0.5)
    p.add_argument("--out", required=True, help="trained stream checkpoint")


def run(args: argparse.Namespace) -> int:
    common.setup(args)
    if args.torch_home:
        os.environ["TORCH_HOME"] = args.torch_home
    index = common.read_index(args.index)
    config = checkpoint.stream_config(args.modality, args.depth, common.num_classes(index), args.dropout, args.length)
    net = checkpoint.build_stream(config, args.pretrained)
    ctx, dev = common.process(args)
    net.to(dev)
    data = common.train_dataset(args, index, (args.modality,), dev)
    sched = common.schedule(args, len(data))
    trainer = Trainer(net, list(net.parameters()), data, sched, seed=args.seed, resume=Path(args.out + ".resume"),
                      run_id={"config": config, "pretrained": args.pretrained, "index": args.index,
                              "split": args.split, "crop": args.crop, "hflip": args.hflip,
                              "segments": args.segments}, device=dev, ctx=ctx)

    def step(model, batch):
        scores = tsn_forward(model, to_input(batch[args.modality].to(dev), args.modality))
        target = batch["label"].to(dev)
        return F.cross_entropy(scores, target), {"acc": accuracy(scores, target)}

    history = trainer.fit(step)
    if ctx.main:
        checkpoint.save(args.out, net, "stream", config, history)
        Path(args.out + ".resume").unlink(missing_ok=True)
    return 0
