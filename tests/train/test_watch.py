"""Training you can watch: validation accuracy every epoch (or every N steps) where the data have a validation
split, the history written beside the checkpoint as it goes, TensorBoard events where tensorboard is installed,
a console line per row; and none of it changes what is trained, resumed or not."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pandas as pd
import pytest
import torch
from specs import training

from twostream import kinds
from twostream.specs import StreamSpec, parse
from twostream.train import stream
from twostream.train.run import train
from twostream.train.watch import events_dir, history_csv

STREAM = kinds.KINDS["stream"]


@pytest.fixture(scope="module")
def data(random_shards, tmp_path_factory) -> dict[str, Path]:
    """3 classes: 4 training, 1 test and 2 validation videos each; the same index without the validation rows."""
    root = tmp_path_factory.mktemp("watch")
    rows = [{"video_id": f"v{label}_{clip}", "label": label,
             "split1": "train" if clip < 4 else "test" if clip == 4 else "val"}
            for label in range(3) for clip in range(7)]
    index = random_shards(root, rows, 8, 32)
    table = pd.read_csv(index)
    table[table["split1"] != "val"].to_csv(root / "no_val.csv", index=False)
    return {"index": index, "no_val": root / "no_val.csv"}


def spec(**values) -> StreamSpec:
    return parse(StreamSpec, training(StreamSpec, {"lr": 0.01, "epochs": 3}, seed=1, depth=10, pretrained="none",
                                      dropout=0.5, modality="rgb", length=2, **values))


def run(index: Path, out: Path, **values) -> dict:
    train(STREAM, spec(**values), index=str(index), split=1, init=[], out=str(out), threads=1)
    return torch.load(out, weights_only=False)


def same_weights(a: dict, b: dict) -> bool:
    return a["state_dict"].keys() == b["state_dict"].keys() and all(
        torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in a["state_dict"])


def test_validation_accuracy_every_epoch_written_as_it_goes(data, tmp_path, capsys) -> None:
    ckpt = run(data["index"], tmp_path / "model.pt")
    assert [h["step"] for h in ckpt["history"]] == list(range(1, 19))  # a row a step: epochs of 6 steps are short
    history = [h for h in ckpt["history"] if "val_acc" in h]
    assert [h["step"] for h in history] == [6, 12, 18]  # 12 training videos, batches of 2: 3 epochs of 6 steps
    assert [h["epoch"] for h in history] == [1, 2, 3]  # epochs done
    assert all(0 <= h["val_acc"] <= 1 and (h["val_acc"] * 6).is_integer() for h in history)  # 6 validation videos
    table = pd.read_csv(history_csv(tmp_path / "model.pt")).dropna(subset=["val_acc"])
    assert list(table["step"]) == [6, 12, 18] and list(table["val_acc"]) == pytest.approx([h["val_acc"] for h in history])
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("train model: ")]
    assert len(lines) == 3 and lines[0].startswith("train model: step 6/18 (epoch 1) loss ")
    assert "val_acc" in lines[0] and " lr 0.01" in lines[0]


def test_validation_changes_nothing_of_the_training(data, tmp_path) -> None:
    """Bit for bit the weights and losses of a run without a validation split: it takes nothing of the training's
    random streams."""
    watched = run(data["index"], tmp_path / "watched.pt", validate_every=4)
    plain = run(data["no_val"], tmp_path / "plain.pt")
    assert same_weights(watched, plain)
    assert [h["loss"] for h in watched["history"]] == [h["loss"] for h in plain["history"]]
    assert "val_acc" not in plain["history"][0]


def test_every_n_steps_within_epochs(data, tmp_path) -> None:
    history = [h for h in run(data["index"], tmp_path / "model.pt", validate_every=4)["history"] if "val_acc" in h]
    assert [h["step"] for h in history] == [4, 6, 8, 12, 16, 18]  # every 4 steps, and every epoch end (6 steps)
    assert [h["epoch"] for h in history] == pytest.approx([4 / 6, 1, 8 / 6, 2, 16 / 6, 3])


def test_a_resumed_run_ends_as_an_uninterrupted_one(data, tmp_path, monkeypatch) -> None:
    reference = run(data["index"], tmp_path / "reference.pt", validate_every=4, checkpoint_every=1)
    step, calls = stream.step, []

    def interrupted(config, device):
        inner = step(config, device)

        def run_step(model, batch):
            calls.append(1)
            if len(calls) == 10:  # in epoch 2, after a validation row (step 8): the trainer saves and exits
                os.kill(os.getpid(), signal.SIGTERM)
            return inner(model, batch)

        return run_step

    out = tmp_path / "model.pt"
    monkeypatch.setattr(stream, "step", interrupted)
    with pytest.raises(SystemExit):
        run(data["index"], out, validate_every=4, checkpoint_every=1)
    monkeypatch.setattr(stream, "step", step)
    assert not out.exists() and list(pd.read_csv(history_csv(out))["step"]) == list(range(1, 11))  # stopped at 10
    resumed = run(data["index"], out, validate_every=4, checkpoint_every=1)
    assert same_weights(resumed, reference)
    keys = ("epoch", "step", "loss", "acc", "lr", "val_acc")
    rows = [[[h.get(k) for k in keys] for h in run["history"]] for run in (resumed, reference)]
    assert rows[0] == rows[1]
    table = pd.read_csv(history_csv(out))
    assert list(table["step"]) == list(range(1, 19))
    assert list(table.dropna(subset=["val_acc"])["step"]) == [4, 6, 8, 12, 16, 18]


def test_tensorboard_events_as_it_trains(data, tmp_path) -> None:
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run(data["index"], tmp_path / "model.pt", validate_every=4)
    events = EventAccumulator(str(events_dir(tmp_path / "model.pt"))).Reload()
    assert [e.step for e in events.Scalars("val_acc")] == [4, 6, 8, 12, 16, 18]
    assert {"loss", "acc", "lr", "val_acc"} <= set(events.Tags()["scalars"])
