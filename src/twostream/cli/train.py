"""``twostream train``: train one stream (RGB or flow) with TSN sampling and cross-entropy."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from twostream.cli import common
from twostream.cli.spec import add_spec
from twostream.train import stream


@dataclass(frozen=True)
class StreamSpec(common.Training):
    """``model.*`` on top of the shared training values."""

    depth: int
    pretrained: str
    torch_home: str
    dropout: float


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_spec(p, StreamSpec)
    common.add_run_arguments(p)
    p.add_argument("--modality", choices=("rgb", "flow"), required=True)
    p.add_argument("--out", required=True, help="trained stream checkpoint")


def run(args: argparse.Namespace) -> int:
    spec: StreamSpec = args.spec
    common.use_torch_home(spec.torch_home)

    def start(index):
        net, config = stream.start(args.modality, spec.depth, common.num_classes(index), spec.dropout, spec.length,
                                   spec.pretrained)
        return net, config, {"pretrained": spec.pretrained}

    return common.train(args, spec, "stream", (args.modality,), start, stream.step)
