"""``twostream train --kind K``: train one model of any kind (``twostream.kinds``) to the end of its schedule."""

from __future__ import annotations

import argparse

from twostream import kinds
from twostream.cli.common import add_run_arguments, read_spec
from twostream.train.run import train


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--kind", required=True, choices=tuple(kinds.KINDS), help="model kind (twostream.kinds)")
    p.add_argument("--spec", required=True, metavar="JSON",
                   help="the config values the kind's trainer uses, as a JSON object (twostream.specs)")
    add_run_arguments(p)
    p.add_argument("--init", nargs="*", default=[], metavar="CHECKPOINT",
                   help="checkpoints it starts from: none for a stream; the stage-1 RGB and flow streams for cmmp "
                        "and conv_fusion; for cma the flow stream (iteration 1) or iteration n-1")
    p.add_argument("--out", required=True, help="the trained checkpoint")


def run(args: argparse.Namespace) -> int:
    kind = kinds.KINDS[args.kind]
    spec = read_spec(kind.spec, args.spec)
    train(kind, spec, index=args.index, split=args.split, init=args.init, out=args.out, threads=args.threads)
    return 0
