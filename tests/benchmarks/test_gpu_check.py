"""``python benchmarks/gpu_check.py --part P --dry``: every part of the GPU check runs on the CPU, tiny, and
records each measurement in its JSON report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MODELS = {"stream_rgb", "stream_flow", "cmmp", "cma", "conv_fusion"}


@pytest.mark.parametrize("part", ["flow", "extract", "train", "eval"])
def test_gpu_check_dry_runs_every_part(tmp_path, part):
    out = tmp_path / "gpu_check.json"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # the script puts src on the path itself
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "gpu_check.py"), "--part", part, "--dry",
                           "--out", str(out)], capture_output=True, text=True, env=env, timeout=900, cwd=tmp_path)
    report = json.loads(out.read_text())
    assert done.returncode == 0, (done.stdout[-2000:], json.dumps(report)[-3000:])
    assert report["part"] == part and report["environment"]["torch"]
    if part == "flow":
        assert {c["variant"] for c in report["correctness"]} == {"cpu", "cuda"}
        assert all(c["ok"] and c["implementation"] == "torch" for c in report["correctness"])
        assert [r["batch"] for r in report["flow_throughput"]] == [1, 2] and "first_call_s" in report["compile"]
    elif part == "extract":
        assert report["extract"]["ok"] and report["extract"]["byte_identical_to_serial"]
        assert report["extract"]["pairs"] == 10 and report["extract"]["pairs_per_s"] > 0
    elif part == "train":
        assert {r["model"] for r in report["train"]} == MODELS and all(r["step_clips_per_s"] > 0 for r in report["train"])
        compiled = report["train_compiled"]
        assert compiled["compile"] and compiled["graphs"] >= 1 and compiled["step_clips_per_s"] > 0
    else:
        assert {r["model"] for r in report["eval"]} == MODELS and all(r["crops"] == 10 for r in report["eval"])


def test_the_report_is_written_after_every_measurement(tmp_path):
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import gpu_check
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    out = tmp_path / "report.json"
    report = gpu_check.Report(out, part="flow")
    report.measure("first", lambda: {"ok": True, "value": 1})
    assert json.loads(out.read_text())["first"]["value"] == 1  # on disk before the next measurement starts

    def broken() -> dict:
        raise RuntimeError("no GPU")

    report.measure("second", broken, append=True)
    saved = json.loads(out.read_text())
    assert saved["second"][0]["ok"] is False and "no GPU" in saved["second"][0]["error"]
    assert report.failed() == ["second"]
