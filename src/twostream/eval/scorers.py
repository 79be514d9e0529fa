"""Clip scorers of every model kind: a trained network -> (modalities it reads, ClipScorer).

A scorer maps a batch of clips {modality: (N, K, C, h, w)} to {output: (N, classes)} video scores
(segment-averaged); ``twostream.kinds`` says which one a checkpoint's kind uses.
"""

from __future__ import annotations

from typing import Any

from twostream.eval.predict import ClipScorer
from twostream.models.cma import CMANet, tsn_forward_pair
from twostream.models.cmmp import CMMPNet
from twostream.models.conv_fusion import ConvFusionNet
from twostream.models.streams import StreamNet, tsn_forward

Scored = tuple[tuple[str, ...], ClipScorer]
FUSED = "fused"  # the one output of a conv-fusion score file


def stream(net: StreamNet, config: dict[str, Any]) -> Scored:
    """A single stream: {modality: scores}."""
    m = config["modality"]
    return (m,), lambda clips: {m: tsn_forward(net, clips[m])}


def cmmp(net: CMMPNet, config: dict[str, Any]) -> Scored:
    """A CMMP stage-2 model: {"rgb": s_a, "flow": s_m}; the LSTMs run over each clip's K segments."""
    def score(clips: dict) -> dict:
        s_a, s_m = net(clips["rgb"], clips["flow"])
        return {"rgb": s_a, "flow": s_m}

    return ("rgb", "flow"), score


def cma(net: CMANet, config: dict[str, Any]) -> Scored:
    """A CMA model: both branches' outputs {"rgb": scores, "flow": scores}."""
    return ("rgb", "flow"), lambda clips: dict(zip(("rgb", "flow"), tsn_forward_pair(net, clips["rgb"], clips["flow"])))


def conv_fusion(net: ConvFusionNet, config: dict[str, Any]) -> Scored:
    """A conv-fusion model: its one output {"fused": scores}."""
    return ("rgb", "flow"), lambda clips: {FUSED: net(clips["rgb"], clips["flow"])}
