"""Results tables: written as CSV and as Markdown with a provenance note."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from twostream.eval.metrics import Weights, fuse, topk
from twostream.eval.predict import load_pair
from twostream.files import write_csv, write_text


def write_table(df: pd.DataFrame, csv_path: str | os.PathLike, title: str, note: str = "") -> None:
    """``csv_path`` and the same table as Markdown beside it (``.md``; missing values left blank)."""
    write_csv(df, csv_path)
    shown = df.astype(object).where(df.notna(), None)
    md = f"# {title}\n\n{shown.to_markdown(index=False, floatfmt='.2f')}\n"
    if note:
        md += f"\n{note}\n"
    write_text(md, Path(csv_path).with_suffix(".md"))


def two_stream_rows(rgb_path: str, flow_path: str, split: int, weights: Weights) -> list[dict]:
    """RGB, flow and fused accuracy of one split from the two streams' score files."""
    s = load_pair(rgb_path, flow_path)
    labels = s["label"]
    streams = {"RGB": s["rgb"], "Flow": s["flow"], "Fused": fuse(s["rgb"], s["flow"], weights)}
    return [{"split": split, "stream": name, "top1": topk(s, labels, 1), "top5": topk(s, labels, 5),
             "videos": len(labels)} for name, s in streams.items()]


def with_mean(df: pd.DataFrame, by: str) -> pd.DataFrame:
    """Append mean-over-splits rows (split = 'mean') when there is more than one split."""
    if df["split"].nunique() < 2:
        return df
    mean = df.groupby(by, sort=False)[["top1", "top5"]].mean().reset_index()
    mean["split"] = "mean"
    mean["videos"] = df.groupby(by, sort=False)["videos"].sum().values
    return pd.concat([df, mean[df.columns]], ignore_index=True)

