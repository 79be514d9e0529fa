"""The training run every model kind shares: the schedule in epochs or steps."""

from __future__ import annotations

import pytest
from specs import training

from twostream.specs import StreamSpec, parse
from twostream.train.run import schedule


def spec(**schedule_keys) -> StreamSpec:
    return parse(StreamSpec, training(StreamSpec, schedule_keys, batch_size=4))


def test_epochs_and_epoch_milestones_become_steps() -> None:
    s = schedule(spec(lr=0.1, epochs=2.5, milestones=[1, 2]), 18)
    assert (s.steps, s.milestones, s.batch_size) == (10, [4, 8], 4)  # 4 steps per epoch (18 // 4)


def test_steps_and_step_milestones_are_kept() -> None:
    s = schedule(spec(lr=0.1, steps=13500, milestones=[4500, 9000]), 18)
    assert (s.steps, s.milestones) == (13500, [4500, 9000])


@pytest.mark.parametrize("length", [{}, {"epochs": 1, "steps": 1}])
def test_exactly_one_length(length) -> None:
    with pytest.raises(SystemExit, match="exactly one of epochs and steps"):
        schedule(spec(lr=0.1, **length), 18)
