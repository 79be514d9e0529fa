"""CMMP Table 1 and Table 2 from hand-made score files (4 test videos, 2 classes: 25 % per video)."""

from __future__ import annotations

from dataclasses import astuple
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from twostream.cli import main
from twostream.eval import intervals
from twostream.eval.cmmp_tables import PAPER_TABLE1_COLUMNS, Run, table1, table2
from twostream.eval.predict import save_scores

LABELS = np.array([0, 1, 0, 1])
ALWAYS_0 = [[1, 0]] * 4  # right on videos 0 and 2: 50 %
MOSTLY_1 = [[0, 2], [0, 2], [2, 0], [0, 2]]  # wrong on video 0 only: 75 %
CONFIDENT_0 = [[3, 0], [1, 0], [1, 0], [1, 0]]  # 50 % alone; + MOSTLY_1 = 100 % at 1:1, 75 % at 1:2


def write(path: Path, **scores: list) -> str:
    save_scores(path, [f"v{i}" for i in range(4)], {k: np.array(v, float) for k, v in scores.items()} | {"label": LABELS})
    return str(path)


def test_table1_measures_each_stream_and_their_fusion(tmp_path):
    files = {"SUM": write(tmp_path / "sum.npz", rgb=ALWAYS_0, flow=MOSTLY_1),
             "CMMP": write(tmp_path / "cmmp.npz", rgb=CONFIDENT_0, flow=MOSTLY_1)}
    df = table1(files, (1.0, 1.0))
    assert list(df["Method"]) == ["SUM", "CMMP"]
    assert df[["Spatial", "Temporal", "Fusion"]].values.tolist() == [[50.0, 75.0, 75.0], [50.0, 75.0, 100.0]]
    assert df[["Fusion_lo", "Fusion_hi"]].values.tolist() == [list(intervals.wilson(3, 4)), list(intervals.wilson(4, 4))]
    assert df[list(PAPER_TABLE1_COLUMNS)].values.tolist() == [[53.01, 54.05, 53.79], [50.07, 65.23, 66.67]]
    assert table1(files, (1.0, 2.0))["Fusion"].tolist() == [75.0, 75.0]


def runs(tmp_path: Path) -> list[Run]:
    """synthetic splits 1 and 2 (two-stream fused 100 % and 50 %, CMMP 100 % and 75 %) and hmdb split 1."""
    def run(dataset: str, kind: str, split: int, rgb: list, flow: list, cmmp_rgb: list) -> Run:
        stem = tmp_path / f"{dataset}{split}"
        return Run(dataset, kind, split, write(Path(f"{stem}-rgb.npz"), rgb=rgb), write(Path(f"{stem}-flow.npz"), flow=flow),
                   write(Path(f"{stem}-cmmp.npz"), rgb=cmmp_rgb, flow=MOSTLY_1))

    return [run("synthetic", "synthetic", 1, CONFIDENT_0, MOSTLY_1, CONFIDENT_0),
            run("synthetic", "synthetic", 2, ALWAYS_0, ALWAYS_0, ALWAYS_0),
            run("hmdb", "hmdb51", 1, ALWAYS_0, MOSTLY_1, CONFIDENT_0)]


def test_table2_averages_splits_and_quotes_the_paper(tmp_path):
    df = table2(runs(tmp_path), (1.0, 1.0), (1.0, 1.0))
    assert list(df.columns) == ["Model", "Method", "Source", "synthetic", "synthetic_lo", "synthetic_hi",
                                "hmdb", "hmdb_lo", "hmdb_hi", "UCF-101"]
    ours = df[df["Source"] == "measured"].set_index("Method")
    assert ours.loc["Two-stream (stage 1)", ["synthetic", "hmdb"]].tolist() == [75.0, 75.0]
    assert ours.loc["CMMP", ["synthetic", "hmdb"]].tolist() == [87.5, 100.0]
    assert ours["UCF-101"].isna().all()
    # The interval of a mean over splits is that of the pooled test videos (8 for synthetic).
    assert tuple(ours.loc["CMMP", ["synthetic_lo", "synthetic_hi"]]) == intervals.wilson(7, 8)
    paper = df[df["Source"] == "reported in paper"].set_index("Method")
    assert len(paper) == 10 and paper[["synthetic"]].isna().all().all()
    assert paper.loc["CMMP", ["UCF-101", "hmdb"]].tolist() == [91.3, 65.9]  # HMDB-51 numbers in the hmdb51 dataset's column
    assert paper.loc["Fusion [11]", ["UCF-101", "hmdb"]].tolist() == [91.8, 64.6]
    assert np.isnan(paper.loc["C3D [8]", "hmdb"])


def test_table2_uses_each_rows_fusion_weights(tmp_path):
    df = table2(runs(tmp_path), (1.0, 2.0), (1.0, 1.0))
    ours = df[df["Source"] == "measured"].set_index("Method")
    assert ours.loc["Two-stream (stage 1)", "synthetic"] == 62.5  # split 1 drops to 75 %
    assert ours.loc["CMMP", "synthetic"] == 87.5


def test_table2_names_paper_columns_when_no_dataset_of_that_kind(tmp_path):
    df = table2(runs(tmp_path)[:2], (1.0, 1.0), (1.0, 1.0))
    assert list(df.columns)[3:] == ["synthetic", "synthetic_lo", "synthetic_hi", "UCF-101", "HMDB-51"]


def test_cli_writes_both_tables(tmp_path):
    r = runs(tmp_path)
    assert main(["cmmp-tables", "table1", "--spec", '{"fusion_weights": [1, 1], "test_segments": 2, "crops": 1}', "--dataset", "synthetic", "--split", "1", "--variants", "sum", "cmmp-noal",
                 "--scores", r[0].cmmp, r[1].cmmp, "--out", str(tmp_path / "t1.csv")]) == 0
    t1 = pd.read_csv(tmp_path / "t1.csv")
    assert list(t1["Method"]) == ["SUM", "CMMP+noAL"] and list(t1["Fusion"]) == [100.0, 75.0]
    assert (tmp_path / "t1.md").read_text().startswith("# CMMP Table 1 on synthetic, split 1")
    lo, hi = intervals.wilson(4, 4)
    assert f"| 100.00 [{lo:.1f}, {hi:.1f}] |" in (tmp_path / "t1.md").read_text()
    args = ["cmmp-tables", "table2", "--spec", '{"fusion_weights": [1, 1], "two_stream_weights": [1, 1], "test_segments": 2, "crops": 1}',
            "--runs", *(f"{x.dataset}:{x.kind}:{x.split}" for x in r),
            "--rgb", *(x.rgb for x in r), "--flow", *(x.flow for x in r), "--cmmp", *(x.cmmp for x in r),
            "--out", str(tmp_path / "t2.csv")]
    assert main(args) == 0
    t2 = pd.read_csv(tmp_path / "t2.csv")
    assert t2.set_index(["Source", "Method"]).loc[("measured", "CMMP"), "synthetic"] == 87.5
    md = (tmp_path / "t2.md").read_text()
    assert "nan" not in md and "| C3D [8]" in md and "synthetic: 1, 2; hmdb: 1" in md


def test_cli_table2_needs_one_file_of_each_kind_per_run(tmp_path):
    with pytest.raises(SystemExit, match="one RGB, one flow and one CMMP score file per run"):
        main(["cmmp-tables", "table2", "--spec", '{"fusion_weights": [1, 1], "two_stream_weights": [1, 1], "test_segments": 2, "crops": 1}',
              "--runs", "a:synthetic:1", "a:synthetic:2", "--rgb", "x", "--flow", "y",
              "--cmmp", "z", "--out", str(tmp_path / "t2.csv")])


def test_table2_measures_conv_fusion_beside_the_quoted_row(tmp_path):
    rs = runs(tmp_path)
    conv = [write(tmp_path / f"cf{i}.npz", fused=f) for i, f in enumerate((MOSTLY_1, ALWAYS_0, CONFIDENT_0))]
    df = table2([Run(*astuple(r)[:6], c) for r, c in zip(rs, conv)], (1.0, 1.0), (1.0, 1.0))
    measured = df[df["Method"] == "Fusion [11] (conv fusion)"].iloc[0]
    assert measured["Source"] == "measured" and (measured["synthetic"], measured["hmdb"]) == (62.5, 50.0)
    assert (measured["synthetic_lo"], measured["synthetic_hi"]) == intervals.wilson(5, 8)
    assert df.loc[df["Method"] == "Fusion [11]", "hmdb"].item() == 64.6
    assert "Fusion [11] (conv fusion)" not in set(table2(rs, (1.0, 1.0), (1.0, 1.0))["Method"])
