"""benchmarks/loader.py --smoke: both layouts written, every loader runs, numbers land in the JSON."""

import json
import subprocess
import sys


def test_loader_benchmark_smoke(repo, tmp_path):
    out = tmp_path / "loader.json"
    run = subprocess.run([sys.executable, str(repo / "benchmarks/loader.py"), "--smoke", "--out", str(out)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(out.read_text())
    assert set(result["warm"]) == {"shards", "rawframes", "rawframes-cv2"}
    for by_workers in result["warm"].values():
        assert by_workers["0"]["clips_per_s"] > 0 and by_workers["0"]["cpu_ms_per_clip"] > 0
    # 4 videos of 10 frames: one shard each, or 10 RGB + 2 x 9 flow JPEGs each
    assert result["bytes"]["shards"]["files"] == 4
    assert result["bytes"]["rawframes"]["files"] == 4 * (10 + 2 * 9)
    assert all(b["bytes_per_video"] > 0 for b in result["bytes"].values())
    assert "shards / rawframes" in run.stdout
