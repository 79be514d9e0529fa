"""``twostream conv-fusion-train``: the conv-fusion positive control, trained from the stage-1 streams."""

from __future__ import annotations

import argparse
from pathlib import Path

from twostream.cli import common
from twostream.models import checkpoint
from twostream.models.conv_fusion import STAGES
from twostream.train import conv_fusion
from twostream.train.cmmp import file_digest
from twostream.train.engine import Trainer


def add_arguments(p: argparse.ArgumentParser) -> None:
    common.add_data_arguments(p)
    common.add_schedule_arguments(p)
    p.add_argument("--rgb", required=True, help="stage-1 RGB stream checkpoint")
    p.add_argument("--flow", required=True, help="stage-1 flow stream checkpoint")
    p.add_argument("--stage", choices=STAGES, required=True, help="ResNet stage after which the maps are fused")
    p.add_argument("--out", required=True, help="conv-fusion checkpoint")


def run(args: argparse.Namespace) -> int:
    common.setup(args)  # threads, and the seed of the fusion layer's BatchNorm/dropout order
    net, config = conv_fusion.from_stage1(args.rgb, args.flow, args.stage)
    if config["flow"]["in_channels"] != 2 * args.length:
        raise SystemExit(f"{args.flow}: the flow stream reads {config['flow']['in_channels']} channels, "
                         f"not 2 x --length {args.length}")
    ctx, dev = common.process(args)
    net.to(dev)
    data = common.train_dataset(args, common.read_index(args.index), conv_fusion.MODALITIES, dev)
    sched = common.schedule(args, len(data))
    run_id = {"config": config, "stage1": [file_digest(args.rgb), file_digest(args.flow)], "index": args.index,
              "split": args.split, "crop": args.crop, "hflip": args.hflip, "segments": args.segments}
    trainer = Trainer(net, list(net.parameters()), data, sched, seed=args.seed, resume=Path(args.out + ".resume"),
                      run_id=run_id, device=dev, ctx=ctx)
    history = trainer.fit(conv_fusion.make_step(dev))
    if ctx.main:
        checkpoint.save(args.out, net, "conv_fusion", config, history)
        Path(args.out + ".resume").unlink(missing_ok=True)
    return 0
