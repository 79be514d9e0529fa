"""Help for people: a purpose line, the commands a person runs apart from the workflow's steps, an example per
command, the defaults shown, one name per option, and --version."""

from __future__ import annotations

import pytest

from twostream import __version__
from twostream.cli import COMMANDS, STEPS, main


def help_text(capsys, *argv: str) -> str:
    with pytest.raises(SystemExit) as done:
        main([*argv, "--help"])
    assert done.value.code == 0
    return capsys.readouterr().out


def test_version(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out.strip() == f"twostream {__version__}"


def test_top_help_has_a_purpose_and_the_workflow_steps_under_their_own_heading(capsys) -> None:
    text = help_text(capsys)
    purpose = text.split("\n\n")[1]
    assert purpose.startswith("From action-recognition videos to the tables") and "snakemake --cores N" in purpose
    commands, steps = text.split("\ncommands:\n")[1].split("\nworkflow steps")
    assert set(COMMANDS) == {"plan", "ingest", "rawframes", "flow", "weights"}
    for name in COMMANDS:
        assert f"    {name}" in commands and f"  {name} " not in steps
    for name in STEPS:
        assert f"  {name} " in steps and f"    {name} " not in commands
    assert "--spec JSON" in steps.splitlines()[0]


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_each_command_a_person_runs_has_an_example(capsys, command) -> None:
    text = help_text(capsys, command)
    examples = text.split("\nexamples:\n")[1]
    assert f"twostream {command}" in examples


def test_defaults_are_shown(capsys) -> None:
    assert "JPEG quality (95: OpenCV's and so denseflow's default)" in help_text(capsys, "rawframes")
    text = " ".join(help_text(capsys, "rawframes").split())
    assert "--threads THREADS OpenCV / torch CPU threads (0: the libraries' default)" in text
    assert "--workers WORKERS decoding processes (step 1; 0: decode in this process) (default: 1)" in text
    assert "(default: None)" not in text


def test_one_name_per_option_as_the_config_names_it(capsys) -> None:
    """datasets.<d>.kind, .splits_dir, .splits: --kind, --splits-dir, --splits wherever a command takes them."""
    ingest, rawframes = help_text(capsys, "ingest"), help_text(capsys, "rawframes")
    for text in (ingest, rawframes):
        assert "--kind {" in text and "--splits-dir SPLITS_DIR" in text and "--dataset-kind" not in text
    assert "--splits K [K ...]" in ingest
