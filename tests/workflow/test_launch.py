"""Training rules start torchrun when a job gets more than one process (train.gpus) or node (train.nodes)."""

from __future__ import annotations

from pathlib import Path

import yaml
from smk import TINY, shell_commands, snakemake


def commands(work: Path, **train) -> dict[str, list[str]]:
    config = yaml.safe_load(TINY.read_text())
    config["train"].update(train)
    out = snakemake(work, config, "-n", "-p")
    assert out.returncode == 0, out.stderr[-3000:]
    listed: dict[str, list[str]] = {}
    for rule, command in shell_commands(out.stdout):
        if command.startswith(": > "):  # a training rule opens its log first (its stdout is tee'd into it)
            command = command.split("; ", 1)[1]
        listed.setdefault(rule, []).append(command)
    return listed


def test_training_runs_under_torchrun_with_two_processes(tmp_path) -> None:
    listed = commands(tmp_path, gpus=2)
    assert listed["train_stream"] and all(
        c.startswith("torchrun --standalone --nproc-per-node 2 -m twostream train ") for c in listed["train_stream"])
    for rule, kind in (("cmmp_train", "cmmp"), ("cma_train", "cma"), ("conv_fusion_train", "conv_fusion")):
        assert all(f"--nproc-per-node 2 -m twostream train --kind {kind} " in c for c in listed[rule])
    assert all(c.startswith("python -m twostream evaluate ") for c in listed["evaluate_stream"])


def test_one_process_runs_python(tmp_path) -> None:
    listed = commands(tmp_path)
    assert all(c.startswith("python -m twostream train ") for c in listed["train_stream"])
