"""CMMP Table 1 (fusion variants on one split) and Table 2 (mean accuracy), beside the paper's numbers."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import pandas as pd

from twostream.eval import intervals
from twostream.eval.metrics import Weights, fuse
from twostream.eval.scores import load_pair, load_scores

# Wang et al. (ICASSP 2018) Table 1: HMDB-51 split 1, top-1 % (spatial, temporal, fusion).
PAPER_TABLE1 = {
    "SUM": (53.01, 54.05, 53.79),
    "MAX": (52.61, 52.29, 52.68),
    "CMMP+noAL": (46.99, 47.71, 60.13),
    "SUM+AL": (51.70, 52.29, 51.96),
    "MAX+AL": (53.79, 53.66, 53.88),
    "CMMP": (50.07, 65.23, 66.67),
}
PAPER_TABLE1_COLUMNS = tuple(f"{c} (paper, HMDB-51 split 1)" for c in ("Spatial", "Temporal", "Fusion"))

# Wang et al. Table 2: (group, method, UCF-101, HMDB-51) mean accuracy over the three splits; None = not reported.
PAPER_TABLE2 = (
    ("Traditional", "iDT+FV [2]", 85.9, 57.2),
    ("Traditional", "iDT+HSV [20]", 87.9, 61.6),
    ("Deep", "EMV-CNN [9]", 86.4, None),
    ("Deep", "Two Stream [1]", 88.0, 59.4),
    ("Deep", "F_ST CN [18]", 88.1, 59.1),
    ("Deep", "C3D [8]", 85.2, None),
    ("Deep", "VideoLSTM [21]", 89.2, 56.4),
    ("Deep", "TDD+FV [19]", 90.3, 63.2),
    ("Deep", "Fusion [11]", 91.8, 64.6),
    ("Ours", "CMMP", 91.3, 65.9),
)
PAPER_DATASETS = {"ucf101": "UCF-101", "hmdb51": "HMDB-51"}  # dataset kind -> the paper's column
REPORTED, MEASURED = "reported in paper", "measured"
CONV_FUSION = "Fusion [11] (conv fusion)"  # our measurement of the paper's "Fusion [11]" row
THIS_RUN = "This pipeline"  # Model label of our measured rows (the paper labels its own row "Ours")


@dataclass(frozen=True)
class Run:
    """One dataset split's score files: the stage-1 streams and the CMMP variant."""

    dataset: str
    kind: str
    split: int
    rgb: str
    flow: str
    cmmp: str
    conv_fusion: str | None = None  # conv fusion's scores ("fused"), the measured "Fusion [11]" row


Accuracy = tuple[float, float, float]  # top-1 %, 95 % interval low, high


def stream_top1(path: str | os.PathLike, weights: Weights) -> tuple[Accuracy, Accuracy, Accuracy]:
    """Top-1 % (with interval) of a two-output score file ("rgb", "flow"): spatial, temporal, weighted fusion."""
    s = load_pair(path, path)
    fused = fuse(s["rgb"], s["flow"], weights)
    return tuple(intervals.accuracy(x, s["label"]) for x in (s["rgb"], s["flow"], fused))


def table1(variants: dict[str, str], weights: Weights) -> pd.DataFrame:
    """Rows ``{Table 1 name: score file}`` -> Method, Spatial, Temporal, Fusion and the paper's three columns."""
    rows = []
    for name, path in variants.items():
        ours = stream_top1(path, weights)
        paper = PAPER_TABLE1.get(name, (np.nan,) * 3)
        measured = {k: v for c, a in zip(("Spatial", "Temporal", "Fusion"), ours) for k, v in intervals.columns(c, a).items()}
        rows.append({"Method": name, **measured, **dict(zip(PAPER_TABLE1_COLUMNS, paper))})
    return pd.DataFrame(rows)


def two_stream_top1(rgb_path: str | os.PathLike, flow_path: str | os.PathLike, weights: Weights) -> Accuracy:
    """Fused top-1 % (with interval) of the two stage-1 streams' score files."""
    s = load_pair(rgb_path, flow_path)
    return intervals.accuracy(fuse(s["rgb"], s["flow"], weights), s["label"])


def videos(path: str | os.PathLike) -> int:
    return len(load_scores(path)["label"])


def mean_columns(column: str, accuracies: list[Accuracy], sizes: list[int]) -> dict[str, float]:
    """Mean top-1 over splits with the interval of their pooled test videos."""
    _, lo, hi = intervals.pooled([a[0] for a in accuracies], sizes)
    return intervals.columns(column, (float(np.mean([a[0] for a in accuracies])), lo, hi))


def dataset_columns(runs: list[Run]) -> dict[str, str]:
    """Column of every configured dataset and of each paper dataset (kind -> column), in order.

    A configured dataset of kind ucf101 / hmdb51 shares its column with the paper's numbers;
    paper datasets not configured get a column of their own, named as in the paper.
    """
    columns = {r.dataset: r.dataset for r in runs}
    kinds = {r.kind: r.dataset for r in runs}
    columns.update({kind: kinds.get(kind, title) for kind, title in PAPER_DATASETS.items()})
    return columns


def table2(runs: list[Run], two_stream_weights: Weights, cmmp_weights: Weights) -> pd.DataFrame:
    """Our two-stream baseline, CMMP and conv fusion (top-1 %, mean over each dataset's splits), then the paper's rows."""
    columns = dataset_columns(runs)
    ours = {"Two-stream (stage 1)": {}, "CMMP": {}}
    if any(r.conv_fusion for r in runs):
        ours[CONV_FUSION] = {}
    sizes: dict[str, list[int]] = {}
    for r in runs:
        ours["Two-stream (stage 1)"].setdefault(r.dataset, []).append(two_stream_top1(r.rgb, r.flow, two_stream_weights))
        ours["CMMP"].setdefault(r.dataset, []).append(stream_top1(r.cmmp, cmmp_weights)[2])
        if r.conv_fusion:
            fused = load_scores(r.conv_fusion)
            ours[CONV_FUSION].setdefault(r.dataset, []).append(intervals.accuracy(fused["fused"], fused["label"]))
        sizes.setdefault(r.dataset, []).append(videos(r.cmmp))
    rows = [{"Model": THIS_RUN, "Method": method, "Source": MEASURED,
             **{k: v for d, acc in per_dataset.items() for k, v in mean_columns(d, acc, sizes[d]).items()}}
            for method, per_dataset in ours.items()]
    for group, method, *accuracy in PAPER_TABLE2:
        values = dict(zip((columns["ucf101"], columns["hmdb51"]), accuracy))
        rows.append({"Model": group, "Method": method, "Source": REPORTED, **values})
    measured = set(sizes)
    names = [n for d in dict.fromkeys(columns.values())
             for n in ([d, d + intervals.LO, d + intervals.HI] if d in measured else [d])]
    return pd.DataFrame(rows, columns=["Model", "Method", "Source", *names])
