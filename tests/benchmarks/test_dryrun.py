"""benchmarks/dryrun.py --smoke: the whole workflow dry-runs on a small UCF-101-shaped dataset."""

import json
import subprocess
import sys


def test_dryrun_benchmark_smoke(repo, tmp_path):
    out = tmp_path / "dryrun.json"
    run = subprocess.run([sys.executable, str(repo / "benchmarks/dryrun.py"), "--smoke", "--out", str(out)],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["videos"] == 808
    assert result["jobs_per_rule"]["extract"] == 13  # 808 videos in chunks of 64
    assert result["jobs"] == sum(result["jobs_per_rule"].values())
    assert result["best_seconds"] > 0
