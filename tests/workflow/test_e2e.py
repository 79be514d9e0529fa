"""End to end: Snakemake itself on a tiny synthetic config, to every final table and figure."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def run(repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Run the whole workflow once on tests/workflow/tiny.yaml in a scratch folder."""
    work = tmp_path_factory.mktemp("e2e")
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    cmd = ["snakemake", "--snakefile", str(repo / "Snakefile"), "--directory", str(work),
           "--configfile", str(repo / "tests/workflow/tiny.yaml"), "--cores", "2"]
    proc = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-5000:]
    return work


def test_two_stream_table(run: Path) -> None:
    table = pd.read_csv(run / "results/tiny/two_stream.csv")
    assert list(table["stream"]) == ["RGB", "Flow", "Fused"]
    assert table["videos"].eq(12).all()
    assert table["top1"].between(0, 100).all() and (table["top5"] >= table["top1"]).all()
    assert (run / "results/tiny/two_stream.md").read_text().startswith("# Two-stream baseline on tiny")


def test_every_rule_logged(run: Path) -> None:
    logs = {p.parent.name if p.parent.name != "tiny" else p.parent.parent.name for p in (run / "logs").rglob("*.log")}
    assert {"synthetic", "ingest", "extract", "index", "train_stream", "evaluate_stream", "two_stream_table"} <= logs


def test_failures_and_index(run: Path) -> None:
    failures = pd.read_csv(run / "results/tiny/failures.csv")
    assert list(failures.columns) == ["video", "stage", "reason"] and failures.empty
    index = pd.read_csv(run / "results/tiny/shards.csv")
    assert len(index) == 36 and index["frames"].eq(8).all()


def test_nothing_left_to_do(repo: Path, run: Path) -> None:
    """A second invocation finds every output up to date."""
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    cmd = ["snakemake", "-n", "--snakefile", str(repo / "Snakefile"), "--directory", str(run),
           "--configfile", str(repo / "tests/workflow/tiny.yaml"), "--cores", "2"]
    out = subprocess.run(cmd, cwd=run, env=env, capture_output=True, text=True)
    assert out.returncode == 0 and "Nothing to be done" in out.stdout + out.stderr


# --- CMA ---


def test_cma_tables(run: Path) -> None:
    table1 = pd.read_csv(run / "results/tiny/cma_table1.csv")
    assert list(table1["iteration"]) == [0, 1, 2] and list(table1["weights"]) == ["1:1", "5:1", "1:5"]
    assert table1["videos"].eq(12).all()
    two_stream = pd.read_csv(run / "results/tiny/two_stream.csv").set_index("stream")
    assert table1.loc[0, "rgb_top1"] == two_stream.loc["RGB", "top1"]  # iteration 0 is the stage-1 baseline
    assert table1.loc[1, "flow_top1"] == two_stream.loc["Flow", "top1"]  # iteration 1 leaves the flow branch as it was
    table2 = pd.read_csv(run / "results/tiny/cma_table2.csv")
    assert list(table2["model"]) == ["ResNet-R", "two-stream", "CMA_iter1-R"]
    assert 1.0 < table2.loc[2, "params_ratio"] < table2.loc[1, "params_ratio"]
    for name in ("cma_table1.md", "cma_table2.md"):
        assert (run / "results/tiny" / name).read_text().startswith("# CMA Table")


def test_cma_figures(run: Path) -> None:
    for name in ("cma_fusion_weights.png", "cma_attention.png"):
        assert (run / "results/tiny" / name).read_bytes().startswith(b"\x89PNG")
    sweep = pd.read_csv(run / "results/tiny/cma_fusion_weights.csv")
    assert list(sweep["model"].unique()) == ["two-stream", "CMA_iter1", "CMA_iter2"]
    assert list(sweep["weights"].unique()) == ["0:1", "1:1", "5:1", "1:0"]


def test_cma_lr_edit_reruns_only_cma_jobs(repo: Path, run: Path, tmp_path: Path) -> None:
    """Changing cma.lr re-runs the CMA iterations and everything made from them, and nothing else."""
    config = (repo / "tests/workflow/tiny.yaml").read_text().replace("  lr: 0.01\n  epochs: 1\n  batch_size: 6",
                                                                     "  lr: 0.02\n  epochs: 1\n  batch_size: 6")
    assert "lr: 0.02" in config
    (tmp_path / "edited.yaml").write_text(config)
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    cmd = ["snakemake", "-n", "--snakefile", str(repo / "Snakefile"), "--directory", str(run),
           "--configfile", str(tmp_path / "edited.yaml"), "--cores", "2"]
    out = subprocess.run(cmd, cwd=run, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    stats = (out.stdout + out.stderr).split("Job stats:")[1].split("Reasons:")[0]
    jobs = dict(re.findall(r"^(\w+)\s+(\d+)$", stats, re.M))
    assert jobs == {"cma_train": "2", "evaluate_cma": "2", "cma_tables": "1", "cma_fusion_figure": "1",
                    "cma_attention_figure": "1", "all": "1", "total": "8"}
