"""CMA figures: the fusion-weight sweep (numbers and PNG) and the attention figure (PNG, query and key grids)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from twostream.cli import main
from twostream.eval import cma_figures
from twostream.eval.metrics import parse_ratio
from twostream.eval.predict import save_scores
from twostream.models import checkpoint
from twostream.train import cma

PNG = b"\x89PNG\r\n\x1a\n"
LABELS = np.array([0, 1, 2, 3])
IDS = ["v0", "v1", "v2", "v3"]
BASE = np.array([0.5, 0.4, 0.3, 0.2, 0.1, 0.0])
# RGB right on v0, v2 (v3's label last); flow right on v1, v3 (see tests/eval/test_cma_tables.py).
RGB, FLOW = np.tile(BASE, (4, 1)), np.tile(BASE, (4, 1))
RGB[[0, 1, 2, 3], [0, 0, 2, 0]] += 2
RGB[3, 3] -= 5
FLOW[[0, 1, 2, 3], [4, 1, 4, 3]] += 3
# (top-1, top-5) of RGB:flow = 0:1, 1:1, 5:1 and 1:0.
SWEEP = {"0:1": (50.0, 100.0), "1:1": (25.0, 75.0), "5:1": (50.0, 75.0), "1:0": (50.0, 75.0)}


def test_sweep_fuses_at_every_weight_pair():
    models = {"two-stream": {"rgb": RGB, "flow": FLOW, "label": LABELS},
              "swapped": {"rgb": FLOW, "flow": RGB, "label": LABELS}}
    df = cma_figures.sweep(models, [parse_ratio(w) for w in SWEEP])
    base = df[df["model"] == "two-stream"]
    assert list(base["weights"]) == list(SWEEP)
    assert list(zip(base["top1"], base["top5"])) == list(SWEEP.values())
    swapped = df[df["model"] == "swapped"].set_index("weights")
    assert (swapped.loc["1:0", "top1"], swapped.loc["0:1", "top1"]) == (50.0, 50.0)
    assert list(df.columns) == ["model", "weights", "w_rgb", "w_flow", "top1", "top1_lo", "top1_hi",
                                "top5", "top5_lo", "top5_hi"]
    assert (df["top1_lo"] <= df["top1"]).all() and (df["top1"] <= df["top1_hi"]).all()


def test_fusion_command_writes_the_png_and_the_numbers(tmp_path):
    save_scores(tmp_path / "rgb.npz", IDS, {"rgb": RGB, "label": LABELS})
    save_scores(tmp_path / "flow.npz", IDS, {"flow": FLOW, "label": LABELS})
    save_scores(tmp_path / "iter1.npz", IDS, {"rgb": RGB, "flow": FLOW, "label": LABELS})
    save_scores(tmp_path / "iter2.npz", IDS, {"rgb": FLOW, "flow": RGB, "label": LABELS})
    out = tmp_path / "fig" / "fusion.png"
    assert main(["cma-figures", "fusion", "--spec", json.dumps({"weights": list(SWEEP)}), "--dataset", "toy", "--split", "1",
                 "--rgb", str(tmp_path / "rgb.npz"), "--flow", str(tmp_path / "flow.npz"), "--iterations",
                 str(tmp_path / "iter1.npz"), str(tmp_path / "iter2.npz"), "--out", str(out)]) == 0
    assert out.read_bytes().startswith(PNG)
    df = pd.read_csv(out.with_suffix(".csv"))
    assert list(df["model"].unique()) == ["two-stream", "CMA_iter1", "CMA_iter2"]
    for model in ("two-stream", "CMA_iter1"):
        rows = df[df["model"] == model]
        assert list(rows["weights"]) == list(SWEEP) and list(zip(rows["top1"], rows["top5"])) == list(SWEEP.values())
    assert df[(df["model"] == "CMA_iter2") & (df["weights"] == "1:1")]["top1"].item() == 25.0


def test_key_map_spreads_each_key_over_the_cells_it_pooled():
    weights = np.array([0.1, 0.2, 0.3, 0.4])  # a 2 x 2 key grid pooled from a 3 x 4 query grid (ceil mode)
    expected = np.array([[0.1, 0.1, 0.2, 0.2], [0.1, 0.1, 0.2, 0.2], [0.3, 0.3, 0.4, 0.4]])
    np.testing.assert_array_equal(cma_figures.key_map(weights, (3, 4), (2, 2)), expected)


def test_queries_go_from_the_strongest_to_the_weakest_motion():
    magnitude = np.array([[0.0, 5.0, 1.0, 2.0, 3.0]])  # ranks: cells 1, 4, 3, 2, 0
    assert cma_figures.pick_queries(magnitude, 3) == [1, 3, 0]
    assert cma_figures.pick_queries(magnitude, 1) == [1]


def test_flow_magnitude_averages_each_cell_of_the_grid():
    flow = torch.zeros(10, 4, 4)
    flow[0, :2, :2], flow[1, :2, :2] = 3.0, 4.0  # first field (x, y) = (3, 4) in the top-left cell only
    np.testing.assert_allclose(cma_figures.flow_magnitude(flow, (2, 2)), [[1.0, 0.0], [0.0, 0.0]])


def test_attention_reads_the_last_res4_block(cma_data):
    net, _ = cma.iteration_start(1, cma_data["flow"], pretrained="none", nonlocal_rgb=False, dropout=0.5)
    net.eval()
    rgb, flow = torch.randn(2, 3, 56, 56), torch.randn(2, 10, 56, 56)
    maps, query_shape, key_shape, scores = cma_figures.attention(net, rgb, flow)
    assert cma_figures.last_res4_block(net) is net.rgb_cma["layer3_0"]
    assert (query_shape, key_shape) == ((4, 4), (2, 2)) and maps.shape == (2, 16, 4)
    np.testing.assert_allclose(maps.sum(-1), 1.0, rtol=1e-5)
    torch.testing.assert_close(scores, net(rgb, flow)[0])
    assert not net.rgb_cma["layer3_0"].keep_attention


def test_attention_command_writes_a_png(cma_data, tmp_path):
    net, config = cma.iteration_start(1, cma_data["flow"], pretrained="none", nonlocal_rgb=False, dropout=0.5)
    checkpoint.save(tmp_path / "iter1.pt", net, "cma", config, [])
    out = tmp_path / "attention.png"
    spec = json.dumps({"crop": 24, "videos": 2, "queries": 2, "device": "cpu"})
    assert main(["cma-figures", "attention", "--spec", spec, "--index", str(cma_data["index"]), "--split", "1",
                 "--model", str(tmp_path / "iter1.pt"), "--threads", "1", "--out", str(out)]) == 0
    assert out.read_bytes().startswith(PNG)


@pytest.mark.parametrize("text, weights", [("5:1", (5.0, 1.0)), ("0.5:2", (0.5, 2.0))])
def test_parse_ratio(text, weights):
    assert parse_ratio(text) == weights
