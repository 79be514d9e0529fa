"""``python benchmarks/gpu_check.py --dry``: every step of the GPU check runs on the CPU and is recorded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_gpu_check_dry_runs_every_step(tmp_path):
    out = tmp_path / "gpu_check.json"
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "gpu_check.py"), "--dry", "--out", str(out)],
                          capture_output=True, text=True, env=env, timeout=900)
    report = json.loads(out.read_text())
    assert done.returncode == 0, (done.stdout[-2000:], json.dumps(report)[-3000:])
    assert report["environment"]["torch"] and "opencv_optflow" in report["environment"]
    assert report["correctness"]["ok"] and report["correctness"]["epe_device_vs_cpu"] < 0.05
    assert [r["batch"] for r in report["flow_throughput"]] == [1, 2]
    assert report["extract"]["ok"] and report["extract"]["pairs"] == 10 and report["extract"]["pairs_per_s"] > 0
    assert report["train"].get("ok", True)
