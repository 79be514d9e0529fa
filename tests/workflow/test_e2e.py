"""End to end: Snakemake itself on a tiny synthetic config, to every final table and figure."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import torch
from smk import data_dir, prepared, run_dir, snakemake, tiny_config

from twostream import kinds, paths

pytestmark = pytest.mark.slow
RUN = run_dir(tiny_config(Path()))  # the run's tables: results/ext+tiny-<key> (twostream.kinds.run_dir)
DATA = data_dir(tiny_config(Path()), "tiny")  # tiny's shard index and failures


def test_two_stream_table(run: Path) -> None:
    table = pd.read_csv(run / RUN / "tiny/two_stream.csv")
    assert list(table["stream"]) == ["RGB", "Flow", "Fused"]
    assert table["videos"].eq(12).all()
    assert table["top1"].between(0, 100).all() and (table["top5"] >= table["top1"]).all()
    assert (table["top1_lo"] <= table["top1"]).all() and (table["top1"] <= table["top1_hi"]).all()
    assert (table["top5_lo"] <= table["top5"]).all() and (table["top5"] <= table["top5_hi"]).all()
    assert (run / RUN / "tiny/two_stream.md").read_text().startswith("# Two-stream baseline on tiny")


def test_every_rule_logged(run: Path) -> None:
    logs = {p.relative_to(run / "logs").parts[0] for p in (run / "logs").rglob("*.log")}
    assert {"synthetic", "ingest", "extract", "index", "train_stream", "evaluate_stream", "two_stream_table"} <= logs


def test_failures_and_index(run: Path) -> None:
    failures = pd.read_csv(run / DATA / "failures.csv")
    assert list(failures.columns) == ["video", "stage", "reason"] and failures.empty
    index = pd.read_csv(run / DATA / "shards.csv")
    assert len(index) == 36 + 6 and index["frames"].eq(8).all()
    assert (index["split1"] == "val").sum() == 6  # the validation videos (one per class) reach the shards


def test_nothing_left_to_do(run: Path) -> None:
    """A second invocation finds every output up to date."""
    out = snakemake(run, tiny_config(run), "-n")
    assert out.returncode == 0 and "Nothing to be done" in out.stdout + out.stderr


CMMP_ROWS = ["SUM", "MAX+AL", "CMMP"]  # tiny.yaml's cmmp.variants


def test_cmmp_table1(run: Path) -> None:
    table = pd.read_csv(run / RUN / "tiny/cmmp_table1.csv")
    assert list(table["Method"]) == CMMP_ROWS
    ours = table[["Spatial", "Temporal", "Fusion"]]
    videos = ours * 12 / 100  # 12 test videos: whole numbers of them
    assert ours.notna().all().all() and (videos - videos.round()).abs().max().max() < 1e-9
    assert table["Fusion (paper, HMDB-51 split 1)"].tolist() == [53.79, 53.88, 66.67]
    assert (run / RUN / "tiny/cmmp_table1.md").read_text().startswith("# CMMP Table 1 on tiny, split 1")


def test_cmmp_table2(run: Path) -> None:
    table = pd.read_csv(run / RUN / "cmmp_table2.csv")
    # `ext` is of kind ucf101: it shares its column with the paper's UCF-101 numbers.
    assert list(table.columns) == ["Model", "Method", "Source", "ext", "ext_lo", "ext_hi", "tiny", "tiny_lo",
                                   "tiny_hi", "HMDB-51"]
    assert table.loc[table["Method"] == "Two Stream [1]", "ext"].item() == 88.0
    ours = table[table["Source"] == "measured"].set_index("Method")["tiny"]
    two_stream = pd.read_csv(run / RUN / "tiny/two_stream.csv").set_index("stream")
    assert ours["Two-stream (stage 1)"] == pytest.approx(two_stream.loc["Fused", "top1"])
    table1 = pd.read_csv(run / RUN / "tiny/cmmp_table1.csv").set_index("Method")
    assert ours["CMMP"] == pytest.approx(table1.loc["CMMP", "Fusion"])  # one split: Table 1's CMMP run
    assert (table["Source"] == "reported in paper").sum() == 10
    conv = table[table["Method"] == "Fusion [11] (conv fusion)"].iloc[0]
    baselines = pd.read_csv(run / RUN / "tiny/fusion_baselines.csv").set_index("model")
    assert conv["Source"] == "measured" and conv["tiny"] == pytest.approx(baselines.loc["Conv fusion [11]", "top1"])


def test_fusion_baselines(run: Path) -> None:
    table = pd.read_csv(run / RUN / "tiny/fusion_baselines.csv").set_index("model")
    assert list(table.index) == ["RGB stream (stage 1)", "Flow stream (stage 1)", "Late fusion (stage 1)",
                                 "Conv fusion [11]", "CMMP", "CMA_iter1-R"]
    two_stream = pd.read_csv(run / RUN / "tiny/two_stream.csv").set_index("stream")
    assert table.loc["Late fusion (stage 1)", "top1"] == two_stream.loc["Fused", "top1"]
    assert table["videos"].eq(12).all() and table["colour"].between(0, 100).all()
    assert (table["top1_lo"] <= table["top1"]).all() and (table["direction"] >= table["top1"]).all()
    assert (run / RUN / "tiny/fusion_baselines.md").read_text().startswith("# Fusion baselines on tiny")


def test_every_cmmp_rule_logged(run: Path) -> None:
    logs = {p.relative_to(run / "logs").parts[0] for p in (run / "logs").rglob("*.log")}
    assert {"cmmp_train", "evaluate_cmmp", "cmmp_table1", "cmmp_table2"} <= logs


# --- CMA ---


def test_cma_tables(run: Path) -> None:
    table1 = pd.read_csv(run / RUN / "tiny/cma_table1.csv")
    assert list(table1["iteration"]) == [0, 1, 2] and list(table1["weights"]) == ["1:1", "5:1", "1:5"]
    assert table1["videos"].eq(12).all()
    two_stream = pd.read_csv(run / RUN / "tiny/two_stream.csv").set_index("stream")
    assert table1.loc[0, "rgb_top1"] == two_stream.loc["RGB", "top1"]  # iteration 0 is the stage-1 baseline
    assert table1.loc[1, "flow_top1"] == two_stream.loc["Flow", "top1"]  # iteration 1 leaves the flow branch as it was
    table2 = pd.read_csv(run / RUN / "tiny/cma_table2.csv")
    assert list(table2["model"]) == ["ResNet-R", "two-stream", "CMA_iter1-R"]
    assert 1.0 < table2.loc[2, "params_ratio"] < table2.loc[1, "params_ratio"]
    for name in ("cma_table1.md", "cma_table2.md"):
        assert (run / RUN / "tiny" / name).read_text().startswith("# CMA Table")


def test_cma_figures(run: Path) -> None:
    for name in ("cma_fusion_weights.png", "cma_attention.png"):
        assert (run / RUN / "tiny" / name).read_bytes().startswith(b"\x89PNG")
    sweep = pd.read_csv(run / RUN / "tiny/cma_fusion_weights.csv")
    assert list(sweep["model"].unique()) == ["two-stream", "CMA_iter1", "CMA_iter2"]
    assert list(sweep["weights"].unique()) == ["0:1", "1:1", "5:1", "1:0"]


# --- training curves ---


def test_training_curves_of_every_trained_checkpoint(run: Path) -> None:
    assert (run / RUN / "tiny/training_curves.png").read_bytes().startswith(b"\x89PNG")
    curves = pd.read_csv(run / RUN / "tiny/training_curves.csv")
    config = prepared(tiny_config(run))
    root = paths.models(config, "tiny") + "/"
    runs = [p.removeprefix(root).removesuffix(".pt") for p in kinds.checkpoints(config, "tiny")]
    keys = {kind: path.split("/")[0] for kind, path in zip(["rgb", "flow", "cmmp", "cmmp", "cmmp", "cma", "cma",
                                                            "conv_fusion"], runs)}
    assert runs == [f"{keys['rgb']}/split1", f"{keys['flow']}/split1", f"{keys['cmmp']}/split1/sum",
                    f"{keys['cmmp']}/split1/max-al", f"{keys['cmmp']}/split1/cmmp", f"{keys['cma']}/split1/iter1",
                    f"{keys['cma']}/split1/iter2", f"{keys['conv_fusion']}/split1"]
    assert list(curves["run"].unique()) == runs  # every kind of the table of model kinds, conv fusion included
    history = torch.load(run / paths.stream_model(config, "tiny", "rgb", 1), weights_only=False)["history"]
    rgb = curves[curves["run"] == runs[0]]
    assert rgb["loss"].tolist() == pytest.approx([h["loss"] for h in history])
    assert rgb["lr"].tolist() == pytest.approx([h["lr"] for h in history])




def test_report_has_every_table_and_figure_with_its_caption(run: Path) -> None:
    out = snakemake(run, tiny_config(run), "--report", "report.html")
    assert out.returncode == 0, out.stderr[-3000:]
    html = (run / "report.html").read_text()
    for name in ("two_stream.csv", "cmmp_table1.csv", "cmmp_table2.csv", "cma_table1.csv", "cma_table2.csv",
                 "cma_fusion_weights.png", "cma_attention.png", "training_curves.png"):
        assert name in html, name
    assert "Fusion-weight sweep on" in html and "CMMP Table 1 on" in html


def test_summary_gathers_every_table(run: Path) -> None:
    text = (run / RUN / "summary.md").read_text()
    assert text.startswith("# Results summary") and " UTC on " in text and "Bit-identical across machines" in text
    for name in ("two_stream", "cmmp_table1", "cma_table1", "cma_table2", "fusion_baselines"):
        title = (run / RUN / f"tiny/{name}.md").read_text().splitlines()[0]
        assert f"#{title}" in text
    fused = pd.read_csv(run / RUN / "tiny/two_stream.csv").set_index("stream").loc["Fused"]
    assert f"{fused['top1']:.2f} [{fused['top1_lo']:.1f}, {fused['top1_hi']:.1f}]" in text
