"""The schema is where every default lives: validation fills them in, nested sections included, and each rule
hands its command a spec that has exactly the keys the command's dataclass reads."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml
from smk import TINY, shell_commands, snakemake, twostream_call
from snakemake.utils import validate

from twostream import kinds, specs
from twostream.cli import parse

SCHEMA = "workflow/schemas/config.schema.yaml"


def test_validation_fills_defaults_into_nested_sections(repo: Path) -> None:
    config = yaml.safe_load(TINY.read_text())
    assert "fusion" not in config["cma"] and "weight_decay" not in config["train"]["rgb"]
    validate(config, str(repo / SCHEMA))
    assert config["cma"]["fusion"] == {"odd": [5, 1], "even": [1, 5], "baseline": [1, 1]}
    assert config["cma"]["figures"]["videos"] == 2  # given values stay
    assert config["train"]["rgb"] == {"lr": 0.01, "epochs": 1, "milestones": [], "weight_decay": 0.0005,
                                      "momentum": 0.9, "clip_grad": 0, "plateau_patience": 0}
    assert config["cmmp"]["per_sample_al"] is True and config["cmmp"]["schedule"]["momentum"] == 0.9
    assert config["model"]["torch_home"] == "" and config["train"]["checkpoint_every"] == 0
    assert config["datasets"]["tiny"]["synthetic"]["seed"] == 0


def test_a_rawframes_dataset_needs_no_size_and_gets_its_defaults(repo: Path) -> None:
    config = yaml.safe_load(TINY.read_text())
    config["datasets"]["raw"] = {"kind": "ucf101", "source": "rawframes", "root": "r", "splits_dir": "s",
                                 "splits": [1], "crop": 28}
    validate(config, str(repo / SCHEMA))
    assert config["datasets"]["raw"]["rawframes"] == {"encoding": "denseflow", "bound": 20}
    assert config["datasets"]["tiny"]["source"] == "videos"


@pytest.mark.parametrize("dataset, message", [
    ({"kind": "ucf101", "root": "r", "splits_dir": "s", "splits": [1], "crop": 28}, "'size' is a required"),
    ({"kind": "synthetic", "source": "rawframes", "synthetic": {}, "splits": [1], "crop": 28}, "'videos' was expected"),
    ({"kind": "mmaction2", "root": "r", "splits": [1], "size": [32, 32], "crop": 28}, "'lists' is a required"),
    ({"kind": "mmaction2", "root": "r", "lists": [["train.txt"]], "splits": [1], "size": [32, 32], "crop": 28},
     "is too short"),
    ({"kind": "folder", "source": "rawframes", "root": "r", "splits": [1], "crop": 28,
      "rawframes": {"encoding": "raft"}}, "'raft' is not one of"),
], ids=["videos-without-size", "synthetic-rawframes", "mmaction2-without-lists", "a-list-pair-of-one", "encoding"])
def test_bad_rawframes_and_mmaction2_datasets_are_refused(repo: Path, dataset: dict, message: str) -> None:
    config = yaml.safe_load(TINY.read_text())
    config["datasets"]["bad"] = dataset
    with pytest.raises(Exception, match=message):
        validate(config, str(repo / SCHEMA))


@pytest.mark.parametrize("section", [["train", "rgb"], ["cmmp", "schedule"], ["conv_fusion", "schedule"],
                                     ["cma", "schedule"]])
def test_a_schedule_takes_epochs_or_steps_but_not_both(repo: Path, section: list[str]) -> None:
    config = yaml.safe_load(TINY.read_text())
    schedule = config
    for key in section:
        schedule = schedule[key]
    schedule.pop("epochs", None)
    schedule["steps"] = 5
    validate(config, str(repo / SCHEMA))
    schedule["epochs"] = 1
    with pytest.raises(Exception, match="oneOf|valid under each"):
        validate(config, str(repo / SCHEMA))


def read_spec(argv: list[str]):
    """The spec a command reads from its ``--spec`` (``train``: its kind's spec)."""
    args = parse(argv)
    return specs.parse(kinds.KINDS[args.kind].spec, args.spec) if argv[0] == "train" else args.spec


def dry_run_calls(work: Path, edit=lambda config: None) -> dict[str, list[tuple[list[str], dict, dict]]]:
    """rule -> (argv, flags, spec) of every ``twostream`` job a dry run of tiny.yaml (edited) lists."""
    config = yaml.safe_load(TINY.read_text())
    edit(config)
    out = snakemake(work, config, "-n", "-p")
    assert out.returncode == 0, out.stderr[-3000:]
    calls: dict[str, list] = {}
    for rule, command in shell_commands(out.stdout):
        calls.setdefault(rule, []).append(twostream_call(command))
    return calls


def test_every_rules_spec_is_what_its_command_reads(tmp_path: Path) -> None:
    """A key a rule forgets, or one the command does not know, fails when the spec is read."""
    calls = dry_run_calls(tmp_path)
    assert {"synthetic", "train_stream", "evaluate_stream", "two_stream_table", "cmmp_train", "evaluate_cmmp",
            "cmmp_table1", "cmmp_table2", "cma_train", "evaluate_cma", "cma_tables", "cma_fusion_figure",
            "cma_attention_figure", "conv_fusion_train", "evaluate_conv_fusion", "fusion_baselines"} <= set(calls)
    for rule, listed in calls.items():
        for argv, flags, _ in listed:
            if "--spec" in flags:
                assert dataclasses.is_dataclass(read_spec(argv)), rule


def test_every_trainer_takes_the_same_schedule_block(tmp_path: Path) -> None:
    """train.rgb / train.flow and every kind's `schedule`: the same keys, a length in epochs or steps."""
    def edit(config: dict) -> None:
        for n, schedule in enumerate((config["train"]["rgb"], config["train"]["flow"], config["cmmp"]["schedule"],
                                      config["conv_fusion"]["schedule"], config["cma"]["schedule"])):
            schedule.pop("epochs", None)
            schedule.update(steps=7 + n, milestones=[3])

    calls = dry_run_calls(tmp_path, edit)
    trainers = {"train_stream": {7, 8}, "cmmp_train": {9}, "conv_fusion_train": {10}, "cma_train": {11}}
    for rule, lengths in trainers.items():
        for argv, _, spec in calls[rule]:
            assert "epochs" not in spec["schedule"] and spec["schedule"]["milestones"] == [3]
            schedule = read_spec(argv).schedule
            assert schedule.steps in lengths and schedule.epochs is None, rule


def test_a_config_typo_stops_snakemake_with_one_line_first(tmp_path: Path) -> None:
    config = yaml.safe_load(TINY.read_text())
    config["flow"]["chunk_sise"] = config["flow"].pop("chunk_size")
    out = snakemake(tmp_path, config, "-n")
    assert out.returncode != 0
    lines = [line for line in out.stderr.splitlines() if not line.startswith("Using workflow specific profile")]
    assert lines[0] == "config error: unknown key 'chunk_sise' in flow; did you mean 'chunk_size'?"
    assert len(lines) <= 3 and "additionalProperties" not in out.stderr  # no schema dump
