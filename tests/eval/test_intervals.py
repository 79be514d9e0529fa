"""95 % intervals: the Wilson formula, pooled splits, and the Markdown cells every table shows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from twostream.eval import intervals


def test_wilson_matches_known_values():
    lo, hi = intervals.wilson(50, 100)
    assert (round(lo, 2), round(hi, 2)) == (40.38, 59.62)
    assert intervals.wilson(0, 10)[0] == 0.0 and intervals.wilson(10, 10)[1] == pytest.approx(100.0)
    assert intervals.wilson(10, 10)[0] == pytest.approx(72.25, abs=0.01)


def test_the_interval_holds_the_rate_exactly_at_every_count():
    """0 of 12 gave a low bound of 2.8e-15 % above the 0 % it bounds (the e2e tables' lo <= top1 failed)."""
    for n in range(1, 401):
        for k in range(n + 1):
            lo, hi = intervals.wilson(k, n)
            assert 0.0 <= lo <= 100.0 * k / n <= hi <= 100.0, (k, n)
        assert intervals.wilson(0, n)[0] == 0.0 and intervals.wilson(n, n)[1] == 100.0


def test_half_width_at_50_percent_shrinks_with_videos():
    """The testbed's target: +-6 points at 50 % needs about 267 test videos."""
    def half(n: int) -> float:
        lo, hi = intervals.wilson(n / 2, n)
        return (hi - lo) / 2

    assert half(96) > 9.5
    assert half(267) <= 6.0 < half(260)


def test_accuracy_counts_hits_per_video():
    scores = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 0.0]])
    labels = np.array([0, 1, 1, 1])
    acc, lo, hi = intervals.accuracy(scores, labels)
    assert acc == 50.0 and (lo, hi) == intervals.wilson(2, 4)
    assert intervals.accuracy(scores, labels, k=5)[0] == 100.0


def test_pooled_is_the_interval_of_all_videos():
    assert intervals.pooled([50.0, 100.0], [4, 4]) == (75.0, *intervals.wilson(6, 8))


def test_markdown_cells_join_value_and_interval():
    df = pd.DataFrame([{"m": "a", **intervals.columns("top1", (47.9, 38.12, 57.94)), "other": 1.0},
                       {"m": "b", "top1": np.nan, "top1_lo": np.nan, "top1_hi": np.nan, "other": 2.0}])
    shown = intervals.markdown_cells(df)
    assert list(shown.columns) == ["m", "top1", "other"]
    assert shown["top1"][0] == "47.90 [38.1, 57.9]" and pd.isna(shown["top1"][1])
