"""The end-to-end run the workflow tests share: Snakemake itself on a tiny two-dataset config."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from smk import REPO, snakemake, tiny_config


@pytest.fixture(scope="session")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The whole workflow, run once to every final target in a scratch folder."""
    work = tmp_path_factory.mktemp("e2e")
    spec = json.dumps({"colours": 3, "directions": 2, "groups": 3, "clips_per_group": 1, "val_clips": 4,
                       "frames": 8, "size": [32, 32], "seed": 1})
    made = subprocess.run([sys.executable, "-m", "twostream", "synthetic", "--spec", spec, "--out", str(work / "ext")],
                          env=dict(os.environ, PYTHONPATH=str(REPO / "src")), capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    proc = snakemake(work, tiny_config(work))
    assert proc.returncode == 0, proc.stderr[-5000:]
    return work
