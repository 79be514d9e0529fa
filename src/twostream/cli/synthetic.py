"""``twostream synthetic``: generate the embedded dataset (UCF-101 layout) from a seed."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from twostream.cli.spec import add_spec
from twostream.data.synthetic import SyntheticSpec, generate


@dataclass(frozen=True)
class GeneratorSpec:
    """A synthetic dataset's ``synthetic:`` section."""

    colours: int
    directions: int
    groups: int  # UCF-style groups; split k tests groups g with (g - 1) % 3 == k - 1
    clips_per_group: int
    val_clips: int  # validation videos per class (group 0)
    frames: int
    size: tuple[int, int]  # (H, W)
    seed: int


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_spec(p, GeneratorSpec)
    p.add_argument("--out", required=True, help="dataset root (videos/ and splits/ are written inside)")


def run(args: argparse.Namespace) -> int:
    s: GeneratorSpec = args.spec
    if s.groups < 3:
        raise SystemExit("groups must be at least 3 (one test fold per split)")
    generate(SyntheticSpec(colours=s.colours, directions=s.directions, groups=s.groups,
                           clips_per_group=s.clips_per_group, val_clips=s.val_clips, frames=s.frames,
                           height=s.size[0], width=s.size[1], seed=s.seed), args.out)
    return 0
