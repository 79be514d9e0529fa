"""benchmarks/seeds.py --smoke: two seeds of a tiny run, mean and std of every table cell, as JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def test_seeds_smoke(tmp_path):
    out = tmp_path / "seeds.json"
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks/seeds.py"), "--smoke", "--work", str(tmp_path / "w"),
                           "--out", str(out)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["seeds"] == [0, 1] and len(report["seconds"]) == 2
    cells = {c["cell"]: c for c in report["cells"]}
    fused = cells["tiny/two_stream / 1 Fused / top1"]
    assert len(fused["values"]) == 2 and fused["mean"] == pytest.approx(sum(fused["values"]) / 2)
    assert not [c for c in cells if c.endswith(("_lo", "_hi", "/ videos"))]
    assert out.with_suffix(".md").read_text().startswith("# Spread over seeds [0, 1]")
