"""The schema is where every default lives: validation fills them in, nested sections included, and each rule
hands its command a spec that has exactly the keys the command's dataclass reads."""

from __future__ import annotations

import dataclasses
import re
import shlex
from pathlib import Path

import pytest
import yaml
from smk import TINY, job_blocks, snakemake
from snakemake.utils import validate

from twostream.cli import parse

SCHEMA = "workflow/schemas/config.schema.yaml"


def test_validation_fills_defaults_into_nested_sections(repo: Path) -> None:
    config = yaml.safe_load(TINY.read_text())
    assert "fusion" not in config["cma"] and "weight_decay" not in config["train"]["rgb"]
    validate(config, str(repo / SCHEMA))
    assert config["cma"]["fusion"] == {"odd": [5, 1], "even": [1, 5], "baseline": [1, 1]}
    assert config["cma"]["figures"]["videos"] == 2  # given values stay
    assert config["train"]["rgb"] == {"lr": 0.01, "epochs": 1, "lr_steps": [], "weight_decay": 0.0005,
                                      "momentum": 0.9, "clip_grad": 0, "plateau_patience": 0}
    assert config["cmmp"]["per_sample_al"] is True and config["cmmp"]["momentum"] == 0.9
    assert config["model"]["torch_home"] == "" and config["train"]["checkpoint_every"] == 0
    assert config["datasets"]["tiny"]["synthetic"]["seed"] == 0


@pytest.mark.parametrize("section", [["train", "rgb"], ["cmmp"]])
def test_a_schedule_takes_epochs_or_iterations_but_not_both(repo: Path, section: list[str]) -> None:
    config = yaml.safe_load(TINY.read_text())
    schedule = config
    for key in section:
        schedule = schedule[key]
    schedule.pop("epochs", None)
    schedule["iterations"] = 5
    validate(config, str(repo / SCHEMA))
    schedule["epochs"] = 1
    with pytest.raises(Exception, match="oneOf|valid under each"):
        validate(config, str(repo / SCHEMA))


def test_every_rules_spec_is_what_its_command_reads(tmp_path: Path) -> None:
    """A key a rule forgets, or one the command does not know, fails when the spec is read."""
    out = snakemake(tmp_path, yaml.safe_load(TINY.read_text()), "-n", "-p")
    assert out.returncode == 0, out.stderr[-3000:]
    commands = {}
    for rule, block in job_blocks(out.stdout):
        shell = re.search(r"^Shell command: (.+)$", block, re.M)
        if shell and "--spec" in shell.group(1):
            words = shlex.split(shell.group(1).split(" > ")[0])
            commands.setdefault(rule, words[words.index("twostream") + 1:])
    assert {"synthetic", "train_stream", "evaluate_stream", "two_stream_table", "cmmp_train", "evaluate_cmmp",
            "cmmp_table1", "cmmp_table2", "cma_train", "evaluate_cma", "cma_tables", "cma_fusion_figure",
            "cma_attention_figure"} <= set(commands)
    for rule, argv in commands.items():
        spec = parse(argv).spec
        assert dataclasses.is_dataclass(spec), rule
