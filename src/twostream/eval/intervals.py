"""95 % confidence intervals of accuracies (Wilson score interval over test videos).

Every table writer reports an accuracy column ``X`` with ``X_lo`` and ``X_hi`` beside it (percent);
``markdown_cells`` turns the three into one ``47.9 [38.1, 57.9]`` cell. The Wilson interval is
exact to compute, needs no seed, and stays inside [0, 100] at accuracies near 0 or 100 %.
A mean over splits gets the interval of the pooled counts (all of the splits' test videos).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from twostream.eval.metrics import hits

Z95 = 1.959963984540054  # two-sided 95 % normal quantile
LO, HI = "_lo", "_hi"


def wilson(correct: float, n: int, z: float = Z95) -> tuple[float, float]:
    """(low, high) percent of the Wilson score interval for ``correct`` successes out of ``n``."""
    if n <= 0:
        return math.nan, math.nan
    p = correct / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    # The interval holds p; at 0 or n successes centre - half (+ half) is 0 (1) up to rounding, made exact here.
    return max(0.0, min(100.0 * p, 100.0 * (centre - half))), min(100.0, max(100.0 * p, 100.0 * (centre + half)))


def accuracy(scores: np.ndarray, labels: np.ndarray, k: int = 1) -> tuple[float, float, float]:
    """(top-k %, low, high) with the 95 % Wilson interval over the test videos."""
    h = hits(scores, labels, k)
    return (100.0 * float(h.mean()), *wilson(int(h.sum()), len(h)))


def columns(name: str, value: tuple[float, float, float]) -> dict[str, float]:
    """``{name: acc, name_lo: low, name_hi: high}`` for one table row."""
    return {name: value[0], name + LO: value[1], name + HI: value[2]}


def pooled(accuracies: list[float], videos: list[int]) -> tuple[float, float, float]:
    """Accuracy and interval of several test sets taken together (from each one's % and size)."""
    correct = sum(round(a * n / 100.0) for a, n in zip(accuracies, videos))
    n = sum(videos)
    return (100.0 * correct / n if n else math.nan, *wilson(correct, n))


def interval_columns(df: pd.DataFrame) -> list[str]:
    """Columns ``X`` that have ``X_lo`` and ``X_hi`` beside them."""
    return [c for c in df.columns if f"{c}{LO}" in df.columns and f"{c}{HI}" in df.columns]


def markdown_cells(df: pd.DataFrame, digits: int = 2) -> pd.DataFrame:
    """The table with each ``X, X_lo, X_hi`` triple as one text cell ``X [lo, hi]`` (blank where X is missing)."""
    out = df.copy()
    for c in interval_columns(df):
        out[c] = [_cell(v, lo, hi, digits) for v, lo, hi in zip(df[c], df[c + LO], df[c + HI])]
        out = out.drop(columns=[c + LO, c + HI])
    return out


def _cell(value: float, lo: float, hi: float, digits: int) -> str | None:
    if value is None or pd.isna(value):
        return None
    if pd.isna(lo) or pd.isna(hi):
        return f"{value:.{digits}f}"
    return f"{value:.{digits}f} [{lo:.{max(digits - 1, 0)}f}, {hi:.{max(digits - 1, 0)}f}]"
