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

from twostream.specs import StreamSpec

REPO = Path(__file__).resolve().parents[2]


def command(cma_data: dict, out: Path, precision: str = "fp32") -> list[str]:
    spec = training(StreamSpec, {"lr": 0.01, "epochs": 20}, seed=3, checkpoint_every=2, precision=precision, depth=10,
                    pretrained="none", dropout=0.5, modality="flow")
    return [sys.executable, "-m", "twostream", "train", "--kind", "stream", "--spec", spec, "--index",
            str(cma_data["index"]), "--split", "1", "--threads", "1", "--out", str(out)]


def run(cmd: list[str]) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"), OMP_NUM_THREADS="1")
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def weights(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, map_location="cpu", weights_only=False)["state_dict"]


@pytest.fixture(scope="module")
def references(cma_data, tmp_path_factory) -> dict[str, dict[str, torch.Tensor]]:
    """The models of uninterrupted runs, by precision."""
    out = {}
    for precision in ("fp32", "bf16"):
        path = tmp_path_factory.mktemp("reference") / "model.pt"
        assert run(command(cma_data, path, precision)).wait(timeout=300) == 0
        out[precision] = weights(path)
    return out


@pytest.mark.parametrize(("sig", "precision"), [(signal.SIGKILL, "fp32"), (signal.SIGTERM, "fp32"),
                                                (signal.SIGKILL, "bf16")], ids=["SIGKILL", "SIGTERM", "SIGKILL-bf16"])
def test_killed_training_resumes_to_the_same_model(cma_data, references, tmp_path, sig, precision) -> None:
    reference = references[precision]
    out = tmp_path / "model.pt"
    resume = Path(f"{out}.resume")
    proc = run(command(cma_data, out, precision))
    deadline = time.monotonic() + 300
    while not resume.is_file() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "training ended before its first checkpoint: make it longer"
    time.sleep(0.3)  # somewhere mid-epoch, past the first checkpoint
    proc.send_signal(sig)
    code = proc.wait(timeout=60)
    assert code == (-signal.SIGKILL if sig == signal.SIGKILL else 143)
    assert not out.exists() and resume.is_file()

    again = run(command(cma_data, out, precision))
    log, _ = again.communicate(timeout=300)
    assert again.returncode == 0, log[-2000:]
    assert f"resumed from {resume}" in log
    got = weights(out)
    assert reference.keys() == got.keys() and all(torch.equal(reference[k], got[k]) for k in reference)
