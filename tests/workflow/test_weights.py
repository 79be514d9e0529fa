"""ImageNet weights are checked where they are needed: by the jobs that train, before any job runs."""

from __future__ import annotations

from pathlib import Path

import yaml
from smk import TINY, data_dir, prepared, snakemake

from twostream import paths


def imagenet_config(torch_home: Path) -> dict:
    config = yaml.safe_load(TINY.read_text())
    config["model"].update(depth=18, pretrained="imagenet", torch_home=str(torch_home))
    return config


def test_a_plan_that_trains_names_the_missing_weights_and_the_command_in_one_line(tmp_path: Path) -> None:
    config = imagenet_config(tmp_path / "torch")
    out = snakemake(tmp_path, config, "-n")
    assert out.returncode == 0, out.stderr[-3000:]  # a dry run shows the plan, and says what is missing
    missing = [line for line in out.stderr.splitlines() if line.startswith("missing ImageNet weights")]
    assert len(missing) == 1, out.stderr[-3000:]
    assert str(tmp_path / "torch/hub/checkpoints/resnet18-") in missing[0]
    assert f"`twostream weights --depth 18 --torch-home {tmp_path / 'torch'}`" in missing[0]
    run = snakemake(tmp_path, config)  # a run stops before any job
    assert run.returncode != 0 and "MissingInputException" in run.stderr and "resnet18-" in run.stderr
    assert len([line for line in run.stderr.splitlines() if line.startswith("missing ImageNet weights")]) == 1
    assert not (tmp_path / "results").exists() and not (tmp_path / "data").exists()


def test_targets_that_train_nothing_need_no_weights(tmp_path: Path) -> None:
    config = imagenet_config(tmp_path / "torch")
    manifest = paths.manifest(prepared(config), "tiny")
    out = snakemake(tmp_path, config, "-n", manifest, f"{data_dir(config, 'tiny')}/shards.csv")
    assert out.returncode == 0, out.stderr[-3000:]
    assert "missing ImageNet weights" not in out.stderr
