"""CMA Table 1 and Table 2 from hand-made score files: exact accuracies, fusion weights, measured parameters."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from twostream.cli import main
from twostream.eval import cma_tables
from twostream.eval.cma_tables import count_parameters, fusion_weights
from twostream.eval.predict import load_pair, save_scores
from twostream.models import checkpoint
from twostream.train import cma

# 4 test videos, 6 classes. Every score row is BASE plus bumps, so no two classes tie; a label
# bumped by -5 falls out of the top 5.
LABELS = np.array([0, 1, 2, 3])
BASE = np.array([0.5, 0.4, 0.3, 0.2, 0.1, 0.0])
IDS = ["v0", "v1", "v2", "v3"]


def scores(*bumps: dict[int, float]) -> np.ndarray:
    out = np.tile(BASE, (len(bumps), 1))
    for row, bump in enumerate(bumps):
        for cls, value in bump.items():
            out[row, cls] += value
    return out


# Iteration 0: RGB right on v0, v2 (50 / 75: v3's label last); flow right on v1, v3 (50 / 100);
# 1:1 fusion right on v1 only (25 / 75).
RGB0 = scores({0: 2}, {0: 2}, {2: 2}, {0: 2, 3: -5})
FLOW0 = scores({4: 3}, {1: 3}, {4: 3}, {3: 3})
# Iteration 1: RGB also right on v1 (75 / 75); flow unchanged; 5:1 fusion 75 / 75 (1:1 would give 50).
RGB1 = scores({0: 2}, {1: 2}, {2: 2}, {0: 2, 3: -5})
# Iteration 2: the iteration-0 scores again; 1:5 fusion right on v1, v3 (50 / 100).
EXPECTED = pd.DataFrame({
    "iteration": [0, 1, 2], "weights": ["1:1", "5:1", "1:5"], "videos": [4, 4, 4],
    "rgb_top1": [50.0, 75.0, 50.0], "rgb_top5": [75.0, 75.0, 75.0],
    "flow_top1": [50.0, 50.0, 50.0], "flow_top5": [100.0, 100.0, 100.0],
    "two_stream_top1": [25.0, 75.0, 50.0], "two_stream_top5": [75.0, 75.0, 100.0],
})
PAPER_TOP1 = {"paper_rgb_top1": [67.73, 72.17, 68.45], "paper_flow_top1": [55.73, 55.73, 71.17],
              "paper_two_stream_top1": [71.21, 72.62, 71.55]}


@pytest.fixture
def score_files(tmp_path: Path) -> dict[str, Path]:
    files = {name: tmp_path / f"{name}.npz" for name in ("rgb", "flow", "iter1", "iter2")}
    save_scores(files["rgb"], IDS, {"rgb": RGB0, "label": LABELS})
    save_scores(files["flow"], IDS, {"flow": FLOW0, "label": LABELS})
    save_scores(files["iter1"], IDS, {"rgb": RGB1, "flow": FLOW0, "label": LABELS})
    save_scores(files["iter2"], IDS, {"rgb": RGB0, "flow": FLOW0, "label": LABELS})
    return files


def read_all(files: dict[str, Path]) -> list[dict[str, np.ndarray]]:
    return [load_pair(files["rgb"], files["flow"]),
            load_pair(files["iter1"], files["iter1"]),
            load_pair(files["iter2"], files["iter2"])]


def test_table1_accuracies_and_fusion_weights_per_iteration(score_files):
    table = cma_tables.table1(read_all(score_files), odd=(5, 1), even=(1, 5), baseline=(1, 1))
    pd.testing.assert_frame_equal(table[EXPECTED.columns], EXPECTED)
    for column, values in PAPER_TOP1.items():
        assert list(table[column]) == values
    assert list(table["paper_two_stream_top5"]) == [89.92, 91.04, 90.24]


def test_table1_iterations_past_the_papers_have_no_paper_numbers(score_files):
    runs = read_all(score_files) + [load_pair(score_files["iter1"], score_files["iter1"])] * 2
    table = cma_tables.table1(runs, odd=(5, 1), even=(1, 5), baseline=(1, 1))
    assert list(table["paper_rgb_top1"].iloc[3:].isna()) == [False, True]
    assert list(table["weights"]) == ["1:1", "5:1", "1:5", "5:1", "1:5"]


def test_different_test_videos_are_rejected(score_files, tmp_path):
    save_scores(tmp_path / "other.npz", ["v0", "v1", "v3", "v2"], {"rgb": RGB0, "flow": FLOW0, "label": LABELS})
    runs = read_all(score_files)[:1] + [load_pair(tmp_path / "other.npz", tmp_path / "other.npz")]
    with pytest.raises(ValueError, match="different test videos"):
        cma_tables.table1(runs, odd=(5, 1), even=(1, 5), baseline=(1, 1))


def saved_iteration(cma_data: dict[str, Path], path: Path, iteration: int = 1) -> torch.nn.Module:
    net, config = cma.iteration_start(1, cma_data["flow"], pretrained="none", nonlocal_rgb=False, dropout=0.5)
    checkpoint.save(path, net, "cma", {**config, "iteration": iteration}, [])
    return net


def tables_command(cma_data, files, model: Path, out: Path) -> list[str]:
    fusion = '{"fusion": {"odd": [5, 1], "even": [1, 5], "baseline": [1, 1]}, "test_segments": 2, "crops": 1}'
    return ["cma-tables", "--spec", fusion, "--dataset", "toy", "--split", "1", "--rgb", str(files["rgb"]), "--flow", str(files["flow"]),
            "--iterations", str(files["iter1"]), str(files["iter2"]), "--rgb-model", str(cma_data["rgb"]),
            "--flow-model", str(cma_data["flow"]), "--cma-model", str(model),
            "--table1", str(out / "t1.csv"), "--table2", str(out / "t2.csv")]


def test_table2_counts_parameters_from_the_models(cma_data, score_files, tmp_path):
    net = saved_iteration(cma_data, tmp_path / "iter1.pt")
    assert main(tables_command(cma_data, score_files, tmp_path / "iter1.pt", tmp_path)) == 0
    rgb, _ = checkpoint.load_stream(cma_data["rgb"])
    flow, _ = checkpoint.load_stream(cma_data["flow"])
    n_rgb, n_flow = (sum(p.numel() for p in m.parameters()) for m in (rgb, flow))
    table = pd.read_csv(tmp_path / "t2.csv")
    assert list(table["model"]) == ["ResNet-R", "two-stream", "CMA_iter1-R"]
    assert list(table["params"]) == [n_rgb, n_rgb + n_flow, count_parameters(net, "rgb")]
    assert list(table["params_ratio"]) == pytest.approx([1.0, (n_rgb + n_flow) / n_rgb, count_parameters(net, "rgb") / n_rgb])
    assert 1.0 < table["params_ratio"].iloc[2] < table["params_ratio"].iloc[1]
    assert list(table["top1"]) == [50.0, 25.0, 75.0] and list(table["top5"]) == [75.0, 75.0, 75.0]
    assert list(table["paper_params_ratio"]) == [1.0, 2.0, 1.8] and list(table["paper_top1"]) == [67.73, 71.21, 72.17]
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "t1.csv")[EXPECTED.columns], EXPECTED)
    for name in ("t1.md", "t2.md"):
        text = (tmp_path / name).read_text()
        assert text.startswith("# CMA Table") and "Split 1 of toy" in text and "Kinetics-400" in text
        assert "Test: 2 segments x 1 crops." in text


def test_table2_needs_the_iteration_1_model(cma_data, score_files, tmp_path):
    saved_iteration(cma_data, tmp_path / "iter2.pt", iteration=2)
    with pytest.raises(SystemExit, match="needs iteration 1"):
        main(tables_command(cma_data, score_files, tmp_path / "iter2.pt", tmp_path))


def test_fusion_weights_follow_the_trained_branch():
    paper = {"odd": (5.0, 1.0), "even": (1.0, 5.0), "baseline": (1.0, 1.0)}  # the schema's cma.fusion defaults
    assert [fusion_weights(i, **paper) for i in range(5)] == [(1.0, 1.0), (5.0, 1.0), (1.0, 5.0), (5.0, 1.0), (1.0, 5.0)]
    assert fusion_weights(1, **{**paper, "odd": (2.0, 1.0)}) == (2.0, 1.0)
