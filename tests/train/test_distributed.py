"""DDP under torchrun (gloo, 2 CPU processes) matches one process on the same global batches."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).with_name("ddp_run.py")


def run(cmd: list[str], tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(__file__).parents[2] / "src"), os.environ.get("PYTHONPATH", "")]),
               OMP_NUM_THREADS="1")
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_two_processes_equal_one(tmp_path) -> None:
    run([sys.executable, str(SCRIPT), str(tmp_path / "one.pt")], tmp_path)
    run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", str(SCRIPT),
         str(tmp_path / "two.pt")], tmp_path)
    one, two = (torch.load(tmp_path / f"{n}.pt", weights_only=False) for n in ("one", "two"))
    assert two["loss"] == pytest.approx(one["loss"], rel=1e-5)
    for key, value in one["state"].items():
        assert torch.allclose(two["state"][key].float(), value.float(), atol=1e-5), key
    # Training moved the weights, and BatchNorm statistics were gathered over both processes' halves.
    assert one["state"]["backbone.bn1.num_batches_tracked"] == 2
