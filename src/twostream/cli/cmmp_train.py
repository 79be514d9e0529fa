"""``twostream cmmp-train``: CMMP stage 2, one Table 1 variant trained jointly from the stage-1 streams."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from twostream.cli import common
from twostream.cli.spec import add_spec
from twostream.models.checkpoint import file_digest
from twostream.train import cmmp


@dataclass(frozen=True)
class CMMPSpec(common.Training):
    """``cmmp.per_sample_al`` on top of the shared training values."""

    per_sample_al: bool


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_spec(p, CMMPSpec)
    common.add_run_arguments(p)
    p.add_argument("--variant", choices=tuple(cmmp.VARIANTS), required=True,
                   help="Table 1 variant: " + ", ".join(f"{k} ({v.name})" for k, v in cmmp.VARIANTS.items()))
    p.add_argument("--rgb", required=True, help="stage-1 RGB stream checkpoint")
    p.add_argument("--flow", required=True, help="stage-1 flow stream checkpoint")
    p.add_argument("--out", required=True, help="stage-2 checkpoint")


def run(args: argparse.Namespace) -> int:
    spec: CMMPSpec = args.spec

    def start(index):
        net, config = cmmp.from_stage1(args.rgb, args.flow, args.variant, spec.per_sample_al)
        common.check_flow_length(config, spec.length, args.flow)
        return net, config, {"stage1": [file_digest(args.rgb), file_digest(args.flow)]}

    return common.train(args, spec, "cmmp", ("rgb", "flow"), start, cmmp.step)
