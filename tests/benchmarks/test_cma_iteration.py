"""benchmarks/cma_iteration.py --smoke: a CMA iteration and a stream continued step by step, written as JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_cma_iteration_benchmark_smoke(tmp_path) -> None:
    out = tmp_path / "cma_iteration.json"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "cma_iteration.py"), "--smoke", "--out", str(out)],
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    it, st = result["iteration"], result["stream"]
    assert (it["kind"], it["trained"], st["kind"], st["trained"]) == ("cma", "flow", "stream", "flow")
    assert it["frozen_identical"] is True and st["frozen_identical"] is None
    assert [s["step"] for s in it["steps"]] == [1, 2, 3] and all(s["grad_stream"] > 0 for s in it["steps"])
    assert all(s["grad_cma"] > 0 and s["lr"] == 0.01 for s in it["steps"])
    assert it["seed"] != st["seed"]  # each run draws its own samples (train.run.run_seed)
    for r in (it, st):
        assert {"val", "test"} <= set(r) and r["test"]["videos"] == 6 and 0 <= r["test"]["flow"] <= 1
    assert "fused" in it["test"] and "frozen branch bit-identical: True" in proc.stdout
