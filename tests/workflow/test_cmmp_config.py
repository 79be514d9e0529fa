"""The cmmp section of the configuration schema: the embedded default, the preset and invalid sections."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


@pytest.mark.parametrize("name", ["config.yaml", "workflow/presets/cmmp_ucf101_hmdb51.yaml", "tests/workflow/tiny.yaml"])
def test_shipped_configs_are_valid(repo: Path, name: str) -> None:
    validate(load(repo / name), str(repo / "workflow/schemas/config.schema.yaml"))


@pytest.mark.parametrize("edit", [
    {"schedule": {"lr": 0.1, "epochs": 1, "steps": 100}},  # both a length in epochs and one in steps
    {"lr": 0.1},  # a schedule key outside the schedule
    {"variants": ["concat"]},
    {"variants": ["sum", "sum"]},
    {"learning_rate": 0.1},
])
def test_invalid_cmmp_sections_are_rejected(repo: Path, edit: dict) -> None:
    config = load(repo / "config.yaml")
    config["cmmp"].update(edit)
    with pytest.raises(WorkflowError):
        validate(config, str(repo / "workflow/schemas/config.schema.yaml"))


def test_a_cmmp_section_needs_a_length(repo: Path) -> None:
    config = load(repo / "config.yaml")
    del config["cmmp"]["schedule"]["epochs"]
    with pytest.raises(WorkflowError):
        validate(config, str(repo / "workflow/schemas/config.schema.yaml"))
