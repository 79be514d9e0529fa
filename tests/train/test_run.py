"""The training run every model kind shares: the schedule in epochs or steps."""

from __future__ import annotations

import pytest
from specs import training

from twostream.specs import StreamSpec, parse
from twostream.train.run import schedule


def spec(**schedule_keys) -> StreamSpec:
    return parse(StreamSpec, training(StreamSpec, schedule_keys, batch_size=4))


def test_epochs_and_epoch_milestones_become_steps() -> None:
    s = schedule(spec(lr=0.1, epochs=2.5, milestones=[1, 2]), 18, 0)
    assert (s.steps, s.milestones, s.batch_size) == (10, [4, 8], 4)  # 4 steps per epoch (18 // 4)


def test_steps_and_step_milestones_are_kept() -> None:
    s = schedule(spec(lr=0.1, steps=13500, milestones=[4500, 9000]), 18, 0)
    assert (s.steps, s.milestones) == (13500, [4500, 9000])


@pytest.mark.parametrize("length", [{}, {"epochs": 1, "steps": 1}])
def test_exactly_one_length(length) -> None:
    with pytest.raises(SystemExit, match="exactly one of epochs and steps"):
        schedule(spec(lr=0.1, **length), 18, 0)


def test_each_run_draws_its_own_seed() -> None:
    """Stages that share the config's seed get seeds of their own: stable, and apart for another kind or config."""
    from twostream.train.run import run_seed

    iteration = {"iteration": 1, "trained": "rgb"}
    seeds = {run_seed(0, "cma", iteration), run_seed(0, "cma", {"iteration": 2, "trained": "flow"}),
             run_seed(0, "stream", iteration), run_seed(1, "cma", iteration)}
    assert len(seeds) == 4 and run_seed(0, "cma", dict(iteration)) in seeds


def test_a_later_stage_does_not_replay_an_earlier_ones_samples(cma_data, tmp_path, monkeypatch) -> None:
    """CMA iteration 2 continues iteration 1's network: its dataset and Trainer (views, batch order, dropout) take
    its own run seed, not the config's seed that iteration 1 drew its samples from as well."""
    from twostream.kinds import KINDS
    from twostream.specs import CMASpec
    from twostream.train import run

    seeds = []

    class Recording(run.Trainer):
        def __init__(self, model, params, dataset, schedule, **kw):
            seeds.append((dataset.seed, kw["seed"]))
            super().__init__(model, params, dataset, schedule, **kw)

    monkeypatch.setattr(run, "Trainer", Recording)
    init = cma_data["flow"]
    for iteration in (1, 2):
        spec = parse(CMASpec, training(CMASpec, {"lr": 0.01, "steps": 1}, iteration=iteration, pretrained="none"))
        run.train(KINDS["cma"], spec, index=str(cma_data["index"]), split=1, init=[str(init)],
                  out=str(tmp_path / f"iter{iteration}.pt"), threads=1)
        init = tmp_path / f"iter{iteration}.pt"
    (data1, trainer1), (data2, trainer2) = seeds
    assert data1 == trainer1 and data2 == trainer2  # views and batch order / dropout from one seed per run
    assert len({data1, data2, spec.seed}) == 3
