"""Fusion baselines table: rows from score files, intervals, and the colour / direction rates of the embedded data."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from twostream.cli import main
from twostream.eval import intervals
from twostream.eval.fusion_baselines import binding_columns
from twostream.eval.predict import save_scores

DIRECTIONS = 2  # classes 0..3 = (colour 0, dir 0), (0, 1), (1, 0), (1, 1)


def one_hot(pred: list[int]) -> np.ndarray:
    return np.eye(4)[pred]


def test_binding_rates():
    labels = np.array([0, 1, 2, 3])
    rates = binding_columns(one_hot([0, 3, 3, 2]), labels, DIRECTIONS)
    # colour right on videos 0, 2, 3; direction right on 0, 1; colour right given direction: 1 of 2.
    assert rates["colour"] == 75.0 and rates["direction"] == 50.0
    assert rates["colour_given_direction"] == 50.0
    assert (rates["colour_given_direction_lo"], rates["colour_given_direction_hi"]) == intervals.wilson(1, 2)


def test_cli_writes_every_row(tmp_path):
    labels = np.array([0, 1, 2, 3])
    ids = [f"v{i}" for i in range(4)]
    save_scores(tmp_path / "rgb.npz", ids, {"rgb": one_hot([0, 0, 2, 2]), "label": labels})
    save_scores(tmp_path / "flow.npz", ids, {"flow": one_hot([0, 1, 0, 1]), "label": labels})
    save_scores(tmp_path / "cf.npz", ids, {"fused": one_hot([0, 1, 2, 3]), "label": labels})
    save_scores(tmp_path / "cma.npz", ids, {"rgb": one_hot([0, 1, 2, 0]), "flow": one_hot([0] * 4), "label": labels})
    out = tmp_path / "fb.csv"
    spec = json.dumps({"two_stream_weights": [1, 2], "directions": DIRECTIONS, "test_segments": 2, "crops": 1})
    assert main(["fusion-baselines", "--spec", spec, "--dataset", "d", "--split", "1", "--rgb", str(tmp_path / "rgb.npz"),
                 "--flow", str(tmp_path / "flow.npz"), "--conv-fusion", str(tmp_path / "cf.npz"),
                 "--cma", str(tmp_path / "cma.npz"), "--out", str(out)]) == 0
    df = pd.read_csv(out).set_index("model")
    assert list(df.index) == ["RGB stream (stage 1)", "Flow stream (stage 1)", "Late fusion (stage 1)",
                              "Conv fusion [11]", "CMA_iter1-R"]
    assert df.loc["Conv fusion [11]", ["top1", "colour", "direction"]].tolist() == [100.0, 100.0, 100.0]
    assert df.loc["Late fusion (stage 1)", "top1"] == 50.0  # flow (weight 2) wins where the two disagree
    assert df.loc["CMA_iter1-R", "top1_lo"] == intervals.wilson(3, 4)[0]
    assert "| 100.00 [" in (tmp_path / "fb.md").read_text()
