"""The fusion baselines table: late fusion, conv fusion, CMMP and CMA_iter1-R on one test split.

Each row is one model's video scores (an output of a score file, or two outputs fused with
weights), with top-1 / top-5 and their 95 % intervals. On the embedded data (class = (colour,
direction), label = colour x directions + direction) it also gives how often the predicted
colour and the predicted direction are right, and the colour rate among videos whose direction
is right: a model that binds colour to motion gets the colour right given the direction; late
fusion, which sees both colours with no tie to the motion, gets it right about half the time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from twostream.eval import intervals
from twostream.eval.metrics import Weights, fuse
from twostream.eval.scores import load_scores, same_videos


@dataclass(frozen=True)
class Row:
    """A table row: ``outputs`` of score files (one, or two fused RGB:flow with ``weights``)."""

    name: str
    sources: tuple[tuple[str, str], ...]  # (score file, output name)
    weights: Weights = (1.0, 1.0)  # used by two-source rows only


def row_scores(row: Row) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(scores, labels, video ids) of one row."""
    loaded = [load_scores(path) for path, _ in row.sources]
    same_videos(loaded, [path for path, _ in row.sources])
    parts = [s[output] for s, (_, output) in zip(loaded, row.sources)]
    scores = parts[0] if len(parts) == 1 else fuse(parts[0], parts[1], row.weights)
    return scores, loaded[0]["label"], loaded[0]["video_id"]


def binding_columns(scores: np.ndarray, labels: np.ndarray, directions: int) -> dict[str, float]:
    """Colour-correct, direction-correct and colour-correct-given-direction rates (%, with intervals)."""
    pred = scores.argmax(axis=1)
    colour_ok = pred // directions == labels // directions
    direction_ok = pred % directions == labels % directions
    out = {}
    for name, ok in (("colour", colour_ok), ("direction", direction_ok), ("colour_given_direction", colour_ok[direction_ok])):
        value = 100.0 * float(ok.mean()) if len(ok) else np.nan
        out.update(intervals.columns(name, (value, *intervals.wilson(int(ok.sum()), len(ok)))))
    return out


def table(rows: list[Row], directions: int | None = None) -> pd.DataFrame:
    """One line per model: top-1 / top-5 with intervals, videos; binding rates when ``directions`` is given."""
    out, ids = [], None
    for row in rows:
        scores, labels, video_ids = row_scores(row)
        if ids is not None and list(video_ids) != list(ids):
            raise ValueError(f"{row.name}: scores of other test videos than the rows above")
        ids = video_ids
        line = {"model": row.name, **intervals.columns("top1", intervals.accuracy(scores, labels, 1)),
                **intervals.columns("top5", intervals.accuracy(scores, labels, 5)), "videos": len(labels)}
        if directions:
            line.update(binding_columns(scores, labels, directions))
        out.append(line)
    return pd.DataFrame(out)
