"""The training run every trainer shares: the schedule in epochs or iterations."""

from __future__ import annotations

import pytest
from specs import training

from twostream.cli.common import Training, schedule
from twostream.cli.spec import parse


def test_epochs_and_epoch_lr_steps_become_steps() -> None:
    s = schedule(parse(Training, training({"lr": 0.1, "epochs": 2.5, "lr_steps": [1, 2]}, batch_size=4)), 18)
    assert (s.steps, s.milestones, s.batch_size) == (10, [4, 8], 4)  # 4 steps per epoch (18 // 4)


def test_iterations_and_step_lr_steps_are_kept() -> None:
    s = schedule(parse(Training, training({"lr": 0.1, "iterations": 13500, "lr_steps": [4500, 9000]})), 18)
    assert (s.steps, s.milestones) == (13500, [4500, 9000])


@pytest.mark.parametrize("length", [{}, {"epochs": 1, "iterations": 1}])
def test_exactly_one_length(length) -> None:
    with pytest.raises(SystemExit, match="exactly one of epochs and iterations"):
        schedule(parse(Training, training({"lr": 0.1, **length})), 18)
