"""The table of model kinds: every kind's code is seen by the code versions of the commands that run it."""

from __future__ import annotations

import inspect

import pytest
import torch

from twostream import kinds
from twostream.models import checkpoint
from twostream.models.streams import StreamNet
from twostream.workflow import code_modules, command_module


def defining_module(fn) -> str:
    return inspect.getmodule(fn).__name__


@pytest.mark.parametrize("name", list(kinds.KINDS))
def test_every_kinds_code_is_tracked_by_the_commands_that_run_it(name) -> None:
    """A kind reached by an importlib string (not an ordinary import) would drop out of these closures."""
    kind = kinds.KINDS[name]
    evaluate = code_modules(command_module("evaluate"))
    assert {defining_module(kind.build), defining_module(kind.scorer), defining_module(kind.step)} <= set(evaluate)
    trainer = code_modules(command_module(kind.command))
    assert defining_module(kind.step) in trainer


def test_a_trainer_does_not_track_the_other_kinds_training_code() -> None:
    """Editing one kind's training step re-runs that kind's training only."""
    steps = {name: defining_module(kind.step) for name, kind in kinds.KINDS.items()}
    for name, kind in kinds.KINDS.items():
        tracked = set(code_modules(command_module(kind.command)))
        assert {m for other, m in steps.items() if other != name} & tracked == set()


def test_scorer_of_a_checkpoint_of_each_kind_and_of_an_unknown_one(tmp_path) -> None:
    config = checkpoint.stream_config("flow", 10, 3, 0.5, 2)
    checkpoint.save(tmp_path / "flow.pt", StreamNet(10, 4, 3, dropout=0.5), "stream", config, [])
    modalities, score = kinds.scorer(tmp_path / "flow.pt", torch.device("cpu"))
    assert modalities == ("flow",)
    assert score({"flow": torch.randn(2, 3, 4, 32, 32)})["flow"].shape == (2, 3)
    checkpoint.save(tmp_path / "other.pt", StreamNet(10, 4, 3, dropout=0.5), "conv-fusion?", config, [])
    with pytest.raises(ValueError, match="unknown checkpoint kind 'conv-fusion\\?'"):
        kinds.scorer(tmp_path / "other.pt", torch.device("cpu"))
