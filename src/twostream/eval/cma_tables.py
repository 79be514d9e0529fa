"""CMA Table 1 (accuracy per training iteration) and Table 2 (parameters vs accuracy) from score files.

Iteration 0 is the two-stream baseline: the stage-1 RGB and flow streams' scores. Iteration n >= 1
is the CMA checkpoint's two outputs; its fused score weights RGB:flow by ``fusion_weights(n)``.
The paper's Kinetics-400 numbers sit in separate ``paper_*`` columns.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from twostream.eval import intervals
from twostream.eval.metrics import Weights, fuse, ratio
from twostream.eval.scores import same_videos
from twostream.models import cma as cma_model
from twostream.models.cma import CMANet

OUTPUTS = ("rgb", "flow", "two_stream")

# Chi et al. (2019), Table 1 (Kinetics-400): iteration -> (output -> (top-1, top-5)).
PAPER_TABLE1 = {
    0: {"rgb": (67.73, 87.94), "flow": (55.73, 79.04), "two_stream": (71.21, 89.92)},
    1: {"rgb": (72.17, 90.70), "flow": (55.73, 79.04), "two_stream": (72.62, 91.04)},
    2: {"rgb": (68.45, 88.54), "flow": (71.17, 90.12), "two_stream": (71.55, 90.24)},
    3: {"rgb": (72.19, 90.63), "flow": (69.81, 89.41), "two_stream": (72.55, 90.82)},
}
# Table 2 (Kinetics-400): model -> (parameters relative to one ResNet-50, top-1, top-5).
PAPER_TABLE2 = {"ResNet-R": (1.0, 67.73, 87.94), "two-stream": (2.0, 71.21, 89.92), "CMA_iter1-R": (1.8, 72.17, 90.70)}


Accuracy = tuple[float, float, float]  # %, 95 % interval low, high


def accuracies(scores: dict[str, np.ndarray], weights: Weights) -> dict[str, tuple[Accuracy, Accuracy]]:
    """(top-1, top-5), each with its interval, of the RGB, flow and fused (``weights`` RGB:flow) outputs."""
    outputs = {"rgb": scores["rgb"], "flow": scores["flow"], "two_stream": fuse(scores["rgb"], scores["flow"], weights)}
    return {name: (intervals.accuracy(s, scores["label"], 1), intervals.accuracy(s, scores["label"], 5))
            for name, s in outputs.items()}


def count_parameters(net: CMANet, output: str) -> int:
    """Parameters needed to compute one branch's output (paper Table 2).

    That is the whole branch with its blocks, plus the other branch up to the last insertion point
    (stem, residual blocks, its non-local blocks) and its CMA blocks before that point, which feed
    this branch's later blocks. Divide by a plain StreamNet's count for the paper's ratio.
    """
    other = cma_model.other_branch(output)
    stream = getattr(net, other)
    cma = net.rgb_cma if other == "rgb" else net.flow_cma
    nonlocal_ = net.rgb_nonlocal if other == "rgb" else {}
    last = cma_model.block_key(*net.points[-1])
    needed = [*net.branch(output), stream.backbone.conv1, stream.backbone.bn1]
    for stage, i, block in cma_model.blocks(stream.backbone):
        key = cma_model.block_key(stage, i)
        needed.append(block)
        if key in nonlocal_:
            needed.append(nonlocal_[key])
        if key == last:
            break
        if key in cma:
            needed.append(cma[key])
    return sum(p.numel() for module in needed for p in module.parameters())


def fusion_weights(iteration: int, odd: Weights, even: Weights, baseline: Weights) -> Weights:
    """(w_rgb, w_flow) after a training iteration: ``odd`` after odd ones (RGB trained last; the paper: 5:1),
    ``even`` after even ones (1:5), ``baseline`` for iteration 0, the two-stream baseline (Sec. 5.2)."""
    if iteration == 0:
        return baseline
    return odd if iteration % 2 == 1 else even


def table1(iterations: Sequence[dict[str, np.ndarray]], odd: Weights, even: Weights, baseline: Weights) -> pd.DataFrame:
    """One row per iteration (0 = the two-stream baseline): RGB / flow / fused top-1 and top-5, and the paper's."""
    same_videos(iterations)
    rows = []
    for n, scores in enumerate(iterations):
        weights = fusion_weights(n, odd, even, baseline)
        row = {"iteration": n, "weights": ratio(weights), "videos": len(scores["label"])}
        paper = PAPER_TABLE1.get(n, {})
        for name, (top1, top5) in accuracies(scores, weights).items():
            row.update(intervals.columns(f"{name}_top1", top1) | intervals.columns(f"{name}_top5", top5))
        for name in OUTPUTS:
            row[f"paper_{name}_top1"], row[f"paper_{name}_top5"] = paper.get(name, (np.nan, np.nan))
        rows.append(row)
    return pd.DataFrame(rows)


def table2(baseline: dict[str, np.ndarray], iter1: dict[str, np.ndarray], params: dict[str, int],
           weights: Weights) -> pd.DataFrame:
    """ResNet-R, two-stream (``weights``) and CMA_iter1-R: parameters, ratio to ResNet-R, top-1, top-5, the paper's.

    ``params`` holds measured counts: ``rgb`` and ``flow`` stream, ``cma_rgb`` (what CMA_iter1-R needs).
    """
    same_videos([baseline, iter1])
    base, cma = accuracies(baseline, weights), accuracies(iter1, weights)
    models = {
        "ResNet-R": (params["rgb"], base["rgb"]),
        "two-stream": (params["rgb"] + params["flow"], base["two_stream"]),
        "CMA_iter1-R": (params["cma_rgb"], cma["rgb"]),
    }
    rows = []
    for name, (count, (top1, top5)) in models.items():
        paper = PAPER_TABLE2[name]
        rows.append({"model": name, "params": count, "params_ratio": count / params["rgb"],
                     **intervals.columns("top1", top1), **intervals.columns("top5", top5),
                     "videos": len(baseline["label"]), "paper_params_ratio": paper[0],
                     "paper_top1": paper[1], "paper_top5": paper[2]})
    return pd.DataFrame(rows)
