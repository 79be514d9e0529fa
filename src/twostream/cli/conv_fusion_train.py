"""``twostream conv-fusion-train``: the conv-fusion positive control, trained from the stage-1 streams."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from twostream.cli import common
from twostream.cli.spec import add_spec
from twostream.models.checkpoint import file_digest
from twostream.train import conv_fusion


@dataclass(frozen=True)
class ConvFusionSpec(common.Training):
    """``conv_fusion.stage`` on top of the shared training values."""

    stage: str  # ResNet stage after which the maps are fused (models.conv_fusion.STAGES)


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_spec(p, ConvFusionSpec)
    common.add_run_arguments(p)
    p.add_argument("--rgb", required=True, help="stage-1 RGB stream checkpoint")
    p.add_argument("--flow", required=True, help="stage-1 flow stream checkpoint")
    p.add_argument("--out", required=True, help="conv-fusion checkpoint")


def run(args: argparse.Namespace) -> int:
    spec: ConvFusionSpec = args.spec

    def start(index):
        net, config = conv_fusion.from_stage1(args.rgb, args.flow, spec.stage)
        common.check_flow_length(config, spec.length, args.flow)
        return net, config, {"stage1": [file_digest(args.rgb), file_digest(args.flow)]}

    return common.train(args, spec, "conv_fusion", conv_fusion.MODALITIES, start, conv_fusion.step)
