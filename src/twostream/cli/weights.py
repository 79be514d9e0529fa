"""``twostream weights``: fetch torchvision's ImageNet ResNet weights into the cache once.

Run it on a machine with internet access; compute nodes then read the cache (TORCH_HOME,
or ``--torch-home``) and never download.
"""

from __future__ import annotations

import argparse
import os

from twostream.models.streams import imagenet_cache_path, imagenet_weights


EXAMPLES = """examples:
  twostream weights --depth 50                                          # into $TORCH_HOME or ~/.cache/torch
  twostream weights --depth 50 101 --torch-home /shared/torch           # then set model.torch_home: /shared/torch"""

def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--depth", type=int, nargs="+", default=[50], help="ResNet depths (18, 34, 50, 101, 152)")
    p.add_argument("--torch-home", help="cache root (default: $TORCH_HOME or ~/.cache/torch)")


def run(args: argparse.Namespace) -> int:
    if args.torch_home:
        os.environ["TORCH_HOME"] = args.torch_home
    for depth in args.depth:
        weights = imagenet_weights(depth)
        weights.get_state_dict(progress=True, check_hash=True)
        print(f"ResNet-{depth}: {weights} -> {imagenet_cache_path(depth)}")
    return 0
