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

import torch
import torch.nn.functional as F

from twostream.data.transforms import to_input
from twostream.models import checkpoint
from twostream.models.cma import CMANet, build, set_trainable, tsn_forward_pair
from twostream.train.engine import StepFn, accuracy

KIND = "cma"
MODALITIES = ("rgb", "flow")


def trained_branch(iteration: int) -> str:
    """The branch iteration ``iteration`` trains: RGB in odd iterations, flow in even ones."""
    if iteration < 1:
        raise ValueError(f"CMA iterations start at 1 (iteration 0 is the two-stream baseline), got {iteration}")
    return "rgb" if iteration % 2 else "flow"


def load(path: str | os.PathLike) -> tuple[CMANet, dict[str, Any]]:
    """A trained CMANet and its config."""
    ckpt = checkpoint.load(path)
    if ckpt["kind"] != KIND:
        raise ValueError(f"{path}: a {ckpt['kind']} checkpoint, expected a CMA model")
    return checkpoint.restore(ckpt, build), ckpt["config"]


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
    return net, {"rgb": rgb_config, "flow": dict(flow_config), "nonlocal": nonlocal_rgb}


def start(iteration: int, init: str | os.PathLike, *, pretrained: str, nonlocal_rgb: bool,
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
        if config["nonlocal"] != nonlocal_rgb:
            raise ValueError(f"{init}: nonlocal={config['nonlocal']} does not match nonlocal={nonlocal_rgb}")
    config = {**config, "iteration": iteration, "trained": branch}
    set_dropout(net, config, dropout)
    set_trainable(net, branch)
    return net, config


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
