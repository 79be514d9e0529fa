"""CMA Table 1 (accuracy per training iteration) and Table 2 (parameters vs accuracy) from score files.

Iteration 0 is the two-stream baseline: the stage-1 RGB and flow streams' scores. Iteration n >= 1
is the CMA checkpoint's two outputs; its fused score weights RGB:flow by ``fusion_weights(n)``.
The paper's Kinetics-400 numbers sit in separate ``paper_*`` columns.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import pandas as pd

from twostream.eval import intervals
from twostream.eval.metrics import fuse
from twostream.eval.predict import load_scores
from twostream.models.cma import fusion_weights

Weights = tuple[float, float]
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


def read_pair(rgb_path: str | os.PathLike, flow_path: str | os.PathLike) -> dict[str, np.ndarray]:
    """{"rgb", "flow", "label", "video_id"} from the RGB output of one file and the flow output of another."""
    rgb, flow = load_scores(rgb_path), load_scores(flow_path)
    if list(rgb["video_id"]) != list(flow["video_id"]):
        raise ValueError(f"{rgb_path} and {flow_path} score different videos")
    return {"rgb": rgb["rgb"], "flow": flow["flow"], "label": rgb["label"], "video_id": rgb["video_id"]}


def same_videos(pairs: Sequence[dict[str, np.ndarray]]) -> None:
    """Raise unless every score set covers the same videos in the same order."""
    for p in pairs[1:]:
        if list(p["video_id"]) != list(pairs[0]["video_id"]):
            raise ValueError("the score files cover different test videos")


Accuracy = tuple[float, float, float]  # %, 95 % interval low, high


def accuracies(scores: dict[str, np.ndarray], weights: Weights) -> dict[str, tuple[Accuracy, Accuracy]]:
    """(top-1, top-5), each with its interval, of the RGB, flow and fused (``weights`` RGB:flow) outputs."""
    outputs = {"rgb": scores["rgb"], "flow": scores["flow"], "two_stream": fuse(scores["rgb"], scores["flow"], weights)}
    return {name: (intervals.accuracy(s, scores["label"], 1), intervals.accuracy(s, scores["label"], 5))
            for name, s in outputs.items()}


def ratio(weights: Weights) -> str:
    return f"{weights[0]:g}:{weights[1]:g}"


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
