"""``twostream cma-train``: one CMA training iteration (odd: RGB branch, even: flow branch; the other frozen)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from twostream.cli import common
from twostream.models import checkpoint
from twostream.train import cma


def add_arguments(p: argparse.ArgumentParser) -> None:
    common.add_data_arguments(p)
    common.add_schedule_arguments(p)
    p.add_argument("--iteration", type=int, required=True,
                   help="CMA training iteration n >= 1 (not optimiser steps: those are --iterations)")
    p.add_argument("--init", required=True,
                   help="iteration 1: the pretrained flow stream checkpoint; n > 1: iteration n-1's CMA checkpoint")
    p.add_argument("--pretrained", default="none",
                   help="iteration 1's RGB branch: none | imagenet | path to a state dict (ignored after iteration 1)")
    p.add_argument("--torch-home", default="", help="weights cache (TORCH_HOME) for --pretrained imagenet")
    p.add_argument("--dropout", type=float, default=0.5, help="dropout before both classifiers")
    p.add_argument("--nonlocal", dest="nonlocal_rgb", action=argparse.BooleanOptionalAction, default=False,
                   help="non-local blocks before the CMA blocks of the RGB branch")
    p.add_argument("--out", required=True, help="CMA checkpoint of this iteration")


def run(args: argparse.Namespace) -> int:
    common.setup(args)  # threads, and the seed of iteration 1's new RGB branch and CMA blocks
    if args.torch_home:
        os.environ["TORCH_HOME"] = args.torch_home
    ctx, dev = common.process(args)
    net, config = cma.start(args.iteration, args.init, pretrained=args.pretrained, nonlocal_rgb=args.nonlocal_rgb,
                            dropout=args.dropout)
    if config["flow"]["in_channels"] != 2 * args.length:
        channels = config["flow"]["in_channels"]
        raise SystemExit(f"--length {args.length} does not fit the flow branch's {channels} input channels")
    index = common.read_index(args.index)
    data = common.train_dataset(args, index, cma.MODALITIES, dev)
    sched = common.schedule(args, len(data))
    resume = Path(args.out + ".resume")
    run_id = {"config": config, "init": args.init, "pretrained": args.pretrained, "index": args.index,
              "split": args.split, "crop": args.crop, "hflip": args.hflip, "segments": args.segments}
    history = cma.train_iteration(net, config, data, sched, seed=args.seed, resume=resume, run_id=run_id,
                                  device=dev, ctx=ctx)
    if ctx.main:
        checkpoint.save(args.out, net, cma.KIND, config, history)
        resume.unlink(missing_ok=True)
    return 0
