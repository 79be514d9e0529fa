"""Concurrent GPU jobs on one machine each take a different GPU; a dead job's GPU is free again."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
HOLD = "import sys, time; from twostream.gpus import claim; print(claim(3), flush=True); sys.stdin.read()"
# A job on a faked 4-GPU machine: torch reports 4 CUDA devices; the job resolves its device the way the
# training commands do (train.distributed.process) and prints it, then holds it until stdin closes.
FAKE_4_GPUS = """
import sys, torch
torch.cuda.is_available = lambda: True
torch.cuda.device_count = lambda: 4
from twostream.train import distributed
ctx, dev = distributed.process(sys.argv[1])
print(dev, flush=True)
sys.stdin.read()
"""


def start(locks: Path, code: str = HOLD, *args: str) -> tuple[subprocess.Popen, str]:
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"), TWOSTREAM_GPU_LOCKS=str(locks))
    env.pop("WORLD_SIZE", None)
    proc = subprocess.Popen([sys.executable, "-c", code, *args], env=env, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    return proc, proc.stdout.readline().strip()


def stop(jobs: list[tuple[subprocess.Popen, str]]) -> None:
    for proc, _ in jobs:
        proc.kill()
        proc.wait()


def test_each_running_job_takes_its_own_gpu(tmp_path) -> None:
    jobs = [start(tmp_path) for _ in range(3)]
    assert [gpu for _, gpu in jobs] == ["0", "1", "2"]
    jobs[1][0].kill()  # a killed job releases its GPU
    jobs[1][0].wait()
    again = start(tmp_path)
    assert again[1] == "1"
    stop([*jobs, again])


@pytest.mark.parametrize("device", ["auto", "cuda"])
def test_four_training_jobs_on_four_gpus_use_four_gpus(tmp_path, device) -> None:
    jobs = [start(tmp_path, FAKE_4_GPUS, device) for _ in range(4)]
    try:
        assert sorted(dev for _, dev in jobs) == ["cuda:0", "cuda:1", "cuda:2", "cuda:3"]
    finally:
        stop(jobs)


def test_a_process_asking_twice_holds_one_gpu(tmp_path, monkeypatch) -> None:
    from twostream import gpus

    monkeypatch.setenv("TWOSTREAM_GPU_LOCKS", str(tmp_path))
    monkeypatch.setattr(gpus, "_held", [])
    assert gpus.claim(4) == gpus.claim(4) == 0
    assert len(gpus._held) == 1
    for f in gpus._held:
        f.close()


def test_one_visible_gpu_takes_no_lock(tmp_path, monkeypatch) -> None:
    from twostream import gpus

    monkeypatch.setenv("TWOSTREAM_GPU_LOCKS", str(tmp_path))
    assert gpus.claim(1) == 0 and not gpus.lock_dir().exists()
