"""``python benchmarks/flow_accuracy.py --smoke``: every family of the accuracy suite, every backend, the rule's verdict."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_flow_accuracy_smoke(tmp_path):
    out = tmp_path / "flow_accuracy.json"
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "flow_accuracy.py"), "--smoke", "--threads", "1",
                           "--out", str(out)], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(out.read_text())
    families = set(report["table"])
    if (REPO.parent / "shared" / "data" / "clips").is_dir():
        assert {"large", "fourier", "bicubic", "area"} <= families
    assert "flyingchairs" in families  # benchmarks/data has pairs 5-8 even without ../shared
    for row in report["table"].values():
        assert set(row) == {"opencv-cpu", "torch-cpu", "torch-cuda", "zero"} and all(v >= 0 for v in row.values())
    assert set(report["verdict"]["variants"]) == {"torch-cpu", "torch-cuda"}
    assert "default by the suite's rule" in done.stdout
