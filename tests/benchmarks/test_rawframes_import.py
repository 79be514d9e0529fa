"""benchmarks/rawframes_import.py --smoke: extraction, export and import run, the frames match, numbers in the JSON."""

import json
import subprocess
import sys


def test_rawframes_import_benchmark_smoke(repo, tmp_path):
    out = tmp_path / "rawframes_import.json"
    run = subprocess.run([sys.executable, str(repo / "benchmarks/rawframes_import.py"), "--smoke", "--out", str(out)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(out.read_text())
    assert (result["videos"], result["frames"]) == (2, 24)
    for key in ("extract", "import_warm", "import_cold"):
        assert result[key]["frames_per_s"] > 0
    assert result["ratio_warm"] > 0 and "x extract" in run.stdout
