"""A command's --spec: JSON read into its dataclass, every key checked (no defaults: the schema holds them)."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from specs import training

from twostream.cli import main
from twostream.cli.common import ScheduleSpec, Training
from twostream.cli.spec import SpecError, parse


@dataclass(frozen=True)
class Inner:
    odd: tuple[float, float]


@dataclass(frozen=True)
class Outer:
    name: str
    count: int
    on: bool
    steps: list[float]
    inner: Inner
    optional: int | None


def test_parse_builds_nested_typed_values() -> None:
    spec = parse(Outer, '{"name": "a", "count": 2.0, "on": true, "steps": [1, 2.5], "inner": {"odd": [5, 1]}}')
    assert spec == Outer("a", 2, True, [1.0, 2.5], Inner((5.0, 1.0)), None)
    assert isinstance(spec.count, int) and isinstance(spec.inner.odd[0], float)


@pytest.mark.parametrize("data, message", [
    ({"count": 1, "on": True, "steps": [], "inner": {"odd": [1, 1]}}, "name: missing"),
    ({"name": "a", "count": 1, "on": True, "steps": [], "inner": {"odd": [1, 1]}, "extra": 1},
     "unknown key\\(s\\) extra"),
    ({"name": "a", "count": 1.5, "on": True, "steps": [], "inner": {"odd": [1, 1]}}, "count: expected an integer"),
    ({"name": "a", "count": 1, "on": 1, "steps": [], "inner": {"odd": [1, 1]}}, "on: expected true or false"),
    ({"name": "a", "count": 1, "on": True, "steps": [], "inner": {"odd": [1]}}, "inner.odd: expected 2 values"),
    ({"name": "a", "count": 1, "on": True, "steps": ["x"], "inner": {"odd": [1, 1]}}, "steps\\[0\\]: expected a number"),
])
def test_parse_names_the_bad_key(data, message) -> None:
    with pytest.raises(SpecError, match=message):
        parse(Outer, json.dumps(data))


def test_a_training_spec_gives_epochs_or_iterations() -> None:
    spec = parse(Training, training({"lr": 0.1, "iterations": 7}))
    assert spec.schedule == ScheduleSpec(lr=0.1, epochs=None, iterations=7, lr_steps=[], weight_decay=5e-4,
                                         momentum=0.9, clip_grad=0.0, plateau_patience=0)


def test_a_command_rejects_a_bad_spec_before_running(tmp_path, capsys) -> None:
    args = ["--index", "x.csv", "--split", "1", "--threads", "1", "--modality", "rgb", "--out", str(tmp_path / "m.pt")]
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--spec", training({"lr": 0.1, "epochs": 1}), *args])  # no model keys
    assert exit_.value.code == 2
    assert "argument --spec: invalid StreamSpec: depth: missing" in capsys.readouterr().err
    assert not (tmp_path / "m.pt").exists()
