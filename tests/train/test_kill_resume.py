"""A training stage killed mid-epoch (SIGKILL, SIGTERM) resumes when re-run and ends as an uninterrupted run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from specs import training

REPO = Path(__file__).resolve().parents[2]


def command(cma_data: dict, out: Path) -> list[str]:
    spec = training({"lr": 0.01, "epochs": 20}, seed=3, checkpoint_every=2, depth=10, pretrained="none",
                    torch_home="", dropout=0.5)
    return [sys.executable, "-m", "twostream", "train", "--spec", spec, "--index", str(cma_data["index"]),
            "--split", "1", "--modality", "flow", "--threads", "1", "--out", str(out)]


def run(cmd: list[str]) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"), OMP_NUM_THREADS="1")
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def weights(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, map_location="cpu", weights_only=False)["state_dict"]


@pytest.fixture(scope="module")
def reference(cma_data, tmp_path_factory) -> dict[str, torch.Tensor]:
    """The model of an uninterrupted run."""
    out = tmp_path_factory.mktemp("reference") / "model.pt"
    assert run(command(cma_data, out)).wait(timeout=300) == 0
    return weights(out)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_killed_training_resumes_to_the_same_model(cma_data, reference, tmp_path, sig) -> None:
    out = tmp_path / "model.pt"
    resume = Path(f"{out}.resume")
    proc = run(command(cma_data, out))
    deadline = time.monotonic() + 300
    while not resume.is_file() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "training ended before its first checkpoint: make it longer"
    time.sleep(0.3)  # somewhere mid-epoch, past the first checkpoint
    proc.send_signal(sig)
    code = proc.wait(timeout=60)
    assert code == (-signal.SIGKILL if sig == signal.SIGKILL else 143)
    assert not out.exists() and resume.is_file()

    again = run(command(cma_data, out))
    log, _ = again.communicate(timeout=300)
    assert again.returncode == 0, log[-2000:]
    assert f"resumed from {resume}" in log
    got = weights(out)
    assert reference.keys() == got.keys() and all(torch.equal(reference[k], got[k]) for k in reference)
