"""CMA iterative training (Chi et al., 2019, Sec. 4.3): where each iteration starts, and its training step.

Iteration 0 is the two-stream baseline (the stage-1 streams, trained apart). Iteration 1 builds
the two-branch network: the RGB branch starts from ``pretrained`` (ImageNet in the paper), *not*
from the stage-1 RGB stream (the paper's footnote 1), and the flow branch is the pretrained flow
stream. Odd iterations train the RGB branch and its CMA (and non-local) blocks, even iterations
the flow branch and its CMA blocks; the other branch is frozen whole, BatchNorm statistics
included. Iteration n starts from iteration n-1's weights, with a fresh optimiser and the initial
learning rate. The loss is the cross-entropy of the trained branch's TSN score only.
"""

from __future__ import annotations

import os
from typing import Any

import pandas as pd
import torch
import torch.nn.functional as F

from twostream.data.transforms import to_input
from twostream.eval.predict import Scored
from twostream.models import checkpoint
from twostream.models import cma as model
from twostream.models.cma import BRANCHES, CMANet, load, set_trainable, tsn_forward_pair
from twostream.specs import CMASpec
from twostream.train.engine import StepFn, accuracy
from twostream.train.run import check_flow_length, use_torch_home

MODALITIES = BRANCHES
build = model.build  # an untrained network of a checkpoint config (twostream.kinds)


def trained_branch(iteration: int) -> str:
    """The branch iteration ``iteration`` trains: RGB in odd iterations, flow in even ones."""
    if iteration < 1:
        raise ValueError(f"CMA iterations start at 1 (iteration 0 is the two-stream baseline), got {iteration}")
    return "rgb" if iteration % 2 else "flow"


def set_dropout(net: CMANet, config: dict[str, Any], p: float) -> None:
    """Use dropout ``p`` before both classifiers (recorded in the config)."""
    for branch in MODALITIES:
        getattr(net, branch).dropout.p = p
        config[branch]["dropout"] = p


def first_iteration(flow_path: str | os.PathLike, pretrained: str, nonlocal_rgb: bool) -> tuple[CMANet, dict[str, Any]]:
    """Iteration 1's start: a new RGB branch from ``pretrained`` (none | imagenet | path), the flow stream."""
    flow, flow_config = checkpoint.load_stream(flow_path)
    if flow_config["modality"] != "flow":
        raise ValueError(f"{flow_path}: a {flow_config['modality']} stream; iteration 1 starts from the flow stream")
    rgb_config = checkpoint.stream_config("rgb", flow_config["depth"], flow_config["num_classes"],
                                          flow_config["dropout"], flow_config["in_channels"] // 2)
    rgb = checkpoint.build_stream(rgb_config, pretrained)
    net = CMANet.from_streams(rgb, flow, nonlocal_rgb=nonlocal_rgb)
    return net, {"rgb": rgb_config, "flow": dict(flow_config), "nonlocal_rgb": nonlocal_rgb}


def iteration_start(iteration: int, init: str | os.PathLike, *, pretrained: str, nonlocal_rgb: bool,
                    dropout: float) -> tuple[CMANet, dict[str, Any]]:
    """The network iteration ``iteration`` starts from, and its config (with ``iteration`` and ``trained`` set).

    ``init`` is the pretrained flow stream for iteration 1 and iteration n-1's CMA checkpoint after that;
    ``pretrained`` is used by iteration 1 only. Both classifiers get dropout ``dropout``. The branch this
    iteration trains is trainable, the other frozen whole (``set_trainable``).
    """
    branch = trained_branch(iteration)
    if iteration == 1:
        net, config = first_iteration(init, pretrained, nonlocal_rgb)
    else:
        net, config = load(init)
        if config["iteration"] != iteration - 1:
            raise ValueError(f"{init}: iteration {config['iteration']}, "
                             f"but iteration {iteration} starts from {iteration - 1}")
        if config["nonlocal_rgb"] != nonlocal_rgb:
            raise ValueError(f"{init}: nonlocal_rgb={config['nonlocal_rgb']} does not match nonlocal_rgb={nonlocal_rgb}")
    config = {**config, "iteration": iteration, "trained": branch}
    set_dropout(net, config, dropout)
    set_trainable(net, branch)
    return net, config


def start(spec: CMASpec, init: list[str], index: pd.DataFrame) -> tuple[CMANet, dict[str, Any], dict[str, Any]]:
    """Iteration ``spec.iteration`` from ``init`` = [the stage-1 flow stream] (iteration 1) or [iteration n-1]."""
    (path,) = init
    use_torch_home(spec.torch_home)
    net, config = iteration_start(spec.iteration, path, pretrained=spec.pretrained, nonlocal_rgb=spec.nonlocal_rgb,
                                  dropout=spec.dropout)
    check_flow_length(config, spec.length, path)
    return net, config, {"init": path, "pretrained": spec.pretrained}


def modalities(config: dict[str, Any]) -> tuple[str, ...]:
    return MODALITIES


def step(config: dict[str, Any], device: torch.device) -> StepFn:
    """The Trainer step of an iteration: cross-entropy of the trained branch's segment-averaged score.

    Under torchrun the Trainer synchronises BatchNorm across processes, as the paper does.
    """
    branch = config["trained"]

    def run(model: CMANet, batch: dict[str, Any]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        scores = dict(zip(MODALITIES, tsn_forward_pair(
            model, to_input(batch["rgb"].to(device), "rgb"), to_input(batch["flow"].to(device), "flow"))))
        target = batch["label"].to(device)
        return F.cross_entropy(scores[branch], target), {"acc": accuracy(scores[branch], target)}

    return run


def scorer(net: CMANet, config: dict[str, Any]) -> Scored:
    """A CMA model: both branches' outputs {"rgb": scores, "flow": scores}."""
    return MODALITIES, lambda clips: dict(zip(MODALITIES, tsn_forward_pair(net, clips["rgb"], clips["flow"])))
