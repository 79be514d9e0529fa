"""Concurrent GPU jobs on one machine each take a different GPU; a dead job's GPU is free again."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HOLD = "import sys, time; from twostream.gpus import claim; print(claim(3), flush=True); sys.stdin.read()"


def start(locks: Path) -> tuple[subprocess.Popen, int]:
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"), TWOSTREAM_GPU_LOCKS=str(locks))
    proc = subprocess.Popen([sys.executable, "-c", HOLD], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    return proc, int(proc.stdout.readline())


def test_each_running_job_takes_its_own_gpu(tmp_path) -> None:
    jobs = [start(tmp_path) for _ in range(3)]
    assert [gpu for _, gpu in jobs] == [0, 1, 2]
    jobs[1][0].kill()  # a killed job releases its GPU
    jobs[1][0].wait()
    again = start(tmp_path)
    assert again[1] == 1
    for proc, _ in [*jobs, again]:
        proc.kill()
        proc.wait()


def test_one_visible_gpu_takes_no_lock(tmp_path, monkeypatch) -> None:
    from twostream import gpus

    monkeypatch.setenv("TWOSTREAM_GPU_LOCKS", str(tmp_path))
    assert gpus.claim(1) == 0 and not gpus.lock_dir().exists()
