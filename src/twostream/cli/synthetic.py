"""``twostream synthetic``: generate the embedded dataset (UCF-101 layout) from a seed."""

from __future__ import annotations

import argparse

from twostream.data.synthetic import SyntheticSpec, generate


def add_arguments(p: argparse.ArgumentParser) -> None:
    d = SyntheticSpec()
    p.add_argument("--out", required=True, help="dataset root (videos/ and splits/ are written inside)")
    p.add_argument("--colours", type=int, default=d.colours)
    p.add_argument("--directions", type=int, default=d.directions)
    p.add_argument("--groups", type=int, default=d.groups, help="UCF-style groups; split k tests groups g with (g-1) %% 3 == k-1")
    p.add_argument("--clips-per-group", type=int, default=d.clips_per_group)
    p.add_argument("--val-clips", type=int, default=d.val_clips, help="validation videos per class (group 0)")
    p.add_argument("--frames", type=int, default=d.frames)
    p.add_argument("--size", type=int, nargs=2, default=(d.height, d.width), metavar=("H", "W"))
    p.add_argument("--seed", type=int, default=d.seed)


def run(args: argparse.Namespace) -> int:
    if args.groups < 3:
        raise SystemExit("--groups must be at least 3 (one test fold per split)")
    spec = SyntheticSpec(colours=args.colours, directions=args.directions, groups=args.groups,
                         clips_per_group=args.clips_per_group, val_clips=args.val_clips, frames=args.frames, height=args.size[0],
                         width=args.size[1], seed=args.seed)
    generate(spec, args.out)
    return 0
