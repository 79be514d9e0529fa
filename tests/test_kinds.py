"""The table of model kinds: every kind's module keeps the protocol, and each rule's code version follows its own
kind's code only."""

from __future__ import annotations

import pytest
import torch

from twostream import kinds, paths
from twostream.config import load
from twostream.models import checkpoint
from twostream.models.streams import StreamNet
from twostream.workflow import code_modules, command_module, command_version

PROTOCOL = ("start", "modalities", "step", "build", "scorer")


@pytest.mark.parametrize("name", list(kinds.KINDS))
def test_every_kind_module_is_named_for_it_and_keeps_the_protocol(name) -> None:
    kind = kinds.KINDS[name]
    module = kind.code()
    assert module.__name__ == kinds.module_name(kind) == f"twostream.train.{name}"
    assert all(callable(getattr(module, f)) for f in PROTOCOL)


@pytest.mark.parametrize("command", ["train", "evaluate"])
def test_a_command_running_one_kind_tracks_that_kinds_code_and_no_other(command) -> None:
    """Editing one kind's code re-runs that kind's training and evaluation only."""
    modules = {name: kinds.module_name(k) for name, k in kinds.KINDS.items()}
    for name in kinds.KINDS:
        tracked = set(code_modules(command_module(command), name))
        assert modules[name] in tracked
        assert {m for other, m in modules.items() if other != name} & tracked == set()
        assert "twostream.kinds" in tracked
    versions = {command_version(command, name) for name in kinds.KINDS}
    assert len(versions) == len(kinds.KINDS)


def test_the_table_lists_what_the_workflow_trains(repo) -> None:
    config = load(repo / "config.yaml")
    assert [k.name for k in kinds.configured(config)] == ["stream", "cmmp", "cma", "conv_fusion"]
    trained = kinds.checkpoints(config, "synthetic")
    assert paths.conv_fusion_model(config, "synthetic", 1) in trained  # in the training curves: it is in the table
    assert len(trained) == 2 + len(config["cmmp"]["variants"]) + config["cma"]["iterations"] + 1
    del config["cma"], config["conv_fusion"]
    assert [k.name for k in kinds.configured(config)] == ["stream", "cmmp"]
    assert not any("cma" in t or "fusion_baselines" in t for t in kinds.targets(config))


def test_scorer_of_a_checkpoint_of_each_kind_and_of_an_unknown_one(tmp_path) -> None:
    config = checkpoint.stream_config("flow", 10, 3, 0.5, 2)
    checkpoint.save(tmp_path / "flow.pt", StreamNet(10, 4, 3, dropout=0.5), "stream", config, [])
    modalities, score = kinds.scorer(tmp_path / "flow.pt", torch.device("cpu"))
    assert modalities == ("flow",)
    assert score({"flow": torch.randn(2, 3, 4, 32, 32)})["flow"].shape == (2, 3)
    checkpoint.save(tmp_path / "other.pt", StreamNet(10, 4, 3, dropout=0.5), "conv-fusion?", config, [])
    with pytest.raises(ValueError, match="unknown checkpoint kind 'conv-fusion\\?'"):
        kinds.scorer(tmp_path / "other.pt", torch.device("cpu"))
