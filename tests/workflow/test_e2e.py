"""End to end: Snakemake itself on a tiny synthetic config, to every final table and figure."""

from __future__ import annotations

import os
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
