"""``twostream synthetic``: generate the embedded dataset (UCF-101 layout) from a seed."""

from __future__ import annotations

import argparse

from twostream.data.synthetic import Generator, generate
from twostream.specs import SyntheticSpec, add_spec


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_spec(p, SyntheticSpec)
    p.add_argument("--out", required=True, help="dataset root (videos/ and splits/ are written inside)")


def run(args: argparse.Namespace) -> int:
    s: SyntheticSpec = args.spec
    if s.groups < 3:
        raise SystemExit("groups must be at least 3 (one test fold per split)")
    generate(Generator(colours=s.colours, directions=s.directions, groups=s.groups,
                           clips_per_group=s.clips_per_group, val_clips=s.val_clips, frames=s.frames,
                           height=s.size[0], width=s.size[1], seed=s.seed), args.out)
    return 0
