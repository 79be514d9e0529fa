"""benchmarks/train.py --smoke: runs the step, loader, both and evaluation measurements and writes their JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_train_benchmark_smoke(tmp_path) -> None:
    out = tmp_path / "train.json"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "train.py"), "--smoke", "--out", str(out)],
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    rows = {(r["stream"], r["decode"]): r for r in result["train"]}
    assert set(rows) == {(s, d) for s in ("rgb", "flow") for d in ("cpu", "gpu")}
    for r in rows.values():
        assert all(r[k] > 0 for k in ("step_clips_s", "loader_clips_s", "both_clips_s")) and r["precision"] == "fp32"
    assert {(e["stream"], e["decode"]) for e in result["eval"]} == set(rows)
    assert all(e["videos_s"] > 0 and e["crops"] == 10 for e in result["eval"])
    assert result["goals"] == {"train_clips_per_s_per_stream_with_loader": 800, "eval_videos_per_s_25x10": 50}
    assert result["decode_max_abs_diff"] == {"rgb": 0, "flow": 0}  # torchvision and OpenCV agree on the CPU
    assert "clips/s" in proc.stdout and "videos/s" in proc.stdout
