"""Results tables: written as CSV and as Markdown with a provenance note."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from twostream.eval import intervals
from twostream.eval.metrics import Weights, fuse
from twostream.eval.predict import load_pair
from twostream.files import write_csv, write_text


def test_note(protocol) -> str:
    """The test protocol every table's note states (``specs.Protocol``: eval.test_segments, eval.crops)."""
    return f"Test: {protocol.test_segments} segments x {protocol.crops} crops."


def write_table(df: pd.DataFrame, csv_path: str | os.PathLike, title: str, note: str = "") -> None:
    """``csv_path`` and the same table as Markdown beside it (``.md``; ``X [lo, hi]`` cells; missing values blank)."""
    write_csv(df, csv_path)
    shown = intervals.markdown_cells(df)
    shown = shown.astype(object).where(shown.notna(), None)
    md = f"# {title}\n\n{shown.to_markdown(index=False, floatfmt='.2f')}\n"
    if note:
        md += f"\n{note}\n"
    write_text(md, Path(csv_path).with_suffix(".md"))


def two_stream_rows(rgb_path: str, flow_path: str, split: int, weights: Weights) -> list[dict]:
    """RGB, flow and fused accuracy of one split from the two streams' score files."""
    s = load_pair(rgb_path, flow_path)
    labels = s["label"]
    streams = {"RGB": s["rgb"], "Flow": s["flow"], "Fused": fuse(s["rgb"], s["flow"], weights)}
    return [{"split": split, "stream": name, **intervals.columns("top1", intervals.accuracy(x, labels, 1)),
             **intervals.columns("top5", intervals.accuracy(x, labels, 5)), "videos": len(labels)}
            for name, x in streams.items()]


def with_mean(df: pd.DataFrame, by: str) -> pd.DataFrame:
    """Append mean-over-splits rows (split = 'mean'; interval of the pooled videos) when there is more than one split."""
    if df["split"].nunique() < 2:
        return df
    rows = []
    for key, group in df.groupby(by, sort=False):
        row = {by: key, "split": "mean", "videos": int(group["videos"].sum())}
        for metric in ("top1", "top5"):
            mean = float(group[metric].mean())
            _, lo, hi = intervals.pooled(list(group[metric]), list(group["videos"]))
            row.update({metric: mean, metric + intervals.LO: lo, metric + intervals.HI: hi})
        rows.append(row)
    return pd.concat([df, pd.DataFrame(rows)[df.columns]], ignore_index=True)
