"""twostream.workflow, the helpers the Snakefile calls at parse time: code versions (a rule re-runs when code
it imports changes, and only then), specs, GPUs and launchers."""

from __future__ import annotations

import shutil

import pytest

import twostream.workflow as wf
from twostream.specs import CMAFusionFigureSpec, spec_for


@pytest.fixture
def package(tmp_path, monkeypatch):
    """A copy of the package whose files the test may edit."""
    copy = tmp_path / "twostream"
    shutil.copytree(wf.PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(wf, "PACKAGE", copy)
    wf.code_version.cache_clear()
    yield copy
    wf.code_version.cache_clear()


def test_closure_follows_imports(package) -> None:
    before = {c: wf.command_version(c) for c in ("train", "extract", "synthetic")}
    with open(package / "flow/opencv.py", "a") as f:
        f.write("\n# edited\n")
    wf.code_version.cache_clear()
    after = {c: wf.command_version(c) for c in before}
    assert after["extract"] != before["extract"]  # extract uses the flow backends
    assert after["train"] == before["train"] and after["synthetic"] == before["synthetic"]


def test_dispatch_code_does_not_count(package) -> None:
    before = wf.command_version("train")
    with open(package / "cli/__init__.py", "a") as f:
        f.write("\n# a new command was registered\n")
    wf.code_version.cache_clear()
    assert wf.command_version("train") == before


def test_a_spec_is_the_same_text_for_the_same_values() -> None:
    """Params compare as text: key order in the config must not make an unchanged config look edited."""
    one = {"cma": {"figures": {"videos": 2, "queries": 3, "weights": ["1:1", "0:1"]}}}
    other = {"cma": {"figures": {"weights": ["1:1", "0:1"], "queries": 3, "videos": 2}}}
    assert spec_for(CMAFusionFigureSpec, one) == spec_for(CMAFusionFigureSpec, other) == '{"weights":["1:1","0:1"]}'


def test_gpus_visible_honours_cuda_visible_devices(monkeypatch) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,2")
    assert wf.gpus_visible() == 2
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert wf.gpus_visible() == 0


def test_launcher_runs_torchrun_for_more_than_one_process() -> None:
    assert wf.launcher(1, 1) == "python -m twostream"
    assert wf.launcher(4, 1) == "torchrun --standalone --nproc-per-node 4 -m twostream"
    multi = wf.launcher(4, 2)
    assert multi.startswith("srun --nodes 2 --ntasks-per-node 1 torchrun --nnodes 2 --nproc-per-node 4 ")
    assert multi.endswith(" -m twostream") and "--rdzv-id $SLURM_JOB_ID" in multi
