"""``python benchmarks/flow.py --smoke`` runs and writes its JSON report (the benchmark's numbers come from full runs)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]


def test_flow_benchmark_smoke(tmp_path):
    out = tmp_path / "flow.json"
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "flow.py"), "--smoke", "--threads", "1",
                           "--device", "cpu", "--out", str(out)], capture_output=True, text=True, env=env,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(out.read_text())
    runs = {r["backend"]: r for r in report["runs"]}
    assert runs["torch"]["pairs"] == 2 and runs["torch"]["pairs_per_s"] > 0
    schema = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())
    assert runs["torch"]["params"]["variant"] == schema["properties"]["flow"]["properties"]["variant"]["default"]
    assert report["torch_over_opencv_cpu"] > 0 and "speed in this run" in done.stdout
    assert runs["torch"]["epe_vs_opencv_cpu"] < 1.0
