"""``twostream cmmp-train``: CMMP stage 2, one Table 1 variant trained jointly from the stage-1 streams."""

from __future__ import annotations

import argparse
from pathlib import Path

from twostream.cli import common
from twostream.models import checkpoint
from twostream.train import cmmp
from twostream.train.engine import Trainer


def add_arguments(p: argparse.ArgumentParser) -> None:
    common.add_data_arguments(p)
    common.add_schedule_arguments(p)
    p.add_argument("--variant", choices=tuple(cmmp.VARIANTS), required=True,
                   help="Table 1 variant: " + ", ".join(f"{k} ({v.name})" for k, v in cmmp.VARIANTS.items()))
    p.add_argument("--rgb", required=True, help="stage-1 RGB stream checkpoint")
    p.add_argument("--flow", required=True, help="stage-1 flow stream checkpoint")
    p.add_argument("--per-sample", action=argparse.BooleanOptionalAction, default=True,
                   help="compare the two streams' losses per video inside AL (else batch means)")
    p.add_argument("--out", required=True, help="stage-2 checkpoint")


def run(args: argparse.Namespace) -> int:
    common.setup(args)  # threads, and the seed of the message generators' initialisation
    net, config = cmmp.from_stage1(args.rgb, args.flow, args.variant, args.per_sample)
    if config["flow"]["in_channels"] != 2 * args.length:
        raise SystemExit(f"{args.flow}: the flow stream reads {config['flow']['in_channels']} channels, "
                         f"not 2 x --length {args.length}")
    ctx, dev = common.process(args)
    net.to(dev)
    data = common.train_dataset(args, common.read_index(args.index), ("rgb", "flow"), dev)
    sched = common.schedule(args, len(data))
    run_id = {"config": config, "stage1": [cmmp.file_digest(args.rgb), cmmp.file_digest(args.flow)],
              "index": args.index, "split": args.split, "crop": args.crop, "hflip": args.hflip,
              "segments": args.segments}
    trainer = Trainer(net, list(net.parameters()), data, sched, seed=args.seed, resume=Path(args.out + ".resume"),
                      run_id=run_id, device=dev, ctx=ctx)
    history = trainer.fit(cmmp.make_step(config, dev))
    if ctx.main:
        checkpoint.save(args.out, net, "cmmp", config, history)
        Path(args.out + ".resume").unlink(missing_ok=True)
    return 0
