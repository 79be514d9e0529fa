"""``twostream cma-train``: one CMA training iteration (odd: RGB branch, even: flow branch; the other frozen)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from twostream.cli import common
from twostream.cli.spec import add_spec
from twostream.train import cma


@dataclass(frozen=True)
class CMASpec(common.Training):
    """``model.pretrained``, ``model.torch_home``, ``cma.dropout`` and ``cma.nonlocal`` on top of the shared values."""

    pretrained: str  # iteration 1's RGB branch: none | imagenet | path (ignored after iteration 1)
    torch_home: str
    dropout: float
    nonlocal_rgb: bool


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_spec(p, CMASpec)
    common.add_run_arguments(p)
    p.add_argument("--iteration", type=int, required=True,
                   help="CMA training iteration n >= 1 (not optimiser steps: those are the schedule's iterations)")
    p.add_argument("--init", required=True,
                   help="iteration 1: the pretrained flow stream checkpoint; n > 1: iteration n-1's CMA checkpoint")
    p.add_argument("--out", required=True, help="CMA checkpoint of this iteration")


def run(args: argparse.Namespace) -> int:
    spec: CMASpec = args.spec
    common.use_torch_home(spec.torch_home)

    def start(index):
        net, config = cma.start(args.iteration, args.init, pretrained=spec.pretrained, nonlocal_rgb=spec.nonlocal_rgb,
                                dropout=spec.dropout)
        common.check_flow_length(config, spec.length, args.init)
        return net, config, {"init": args.init, "pretrained": spec.pretrained}

    return common.train(args, spec, "cma", cma.MODALITIES, start, cma.step)
