"""The conv-fusion stage: conv-fusion-train from stage-1 checkpoints, its checkpoint, scorer and evaluate."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import torch
from specs import evaluation, training

from twostream import kinds
from twostream.cli import main
from twostream.eval.scores import load_scores
from twostream.models import checkpoint
from twostream.specs import ConvFusionSpec
from twostream.train import conv_fusion

CLASSES, VIDEOS, FRAMES, SIZE, CROP, LENGTH = 3, 6, 6, 32, 28, 2


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory, random_shards) -> Path:
    """A shard index of VIDEOS random videos (two per class), every one both in split 1's train and test set."""
    rows = [{"video_id": f"v{i}", "label": i % CLASSES, "split1": "train"} for i in range(VIDEOS)]
    path = random_shards(tmp_path_factory.mktemp("shards"), rows, FRAMES, SIZE)
    df = pd.read_csv(path)
    pd.concat([df, df.assign(split1="test")]).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def stage1(tmp_path_factory: pytest.TempPathFactory, stage1_streams) -> tuple[Path, Path]:
    """Two untrained stage-1 stream checkpoints (ResNet-10), RGB and flow."""
    return stage1_streams(tmp_path_factory.mktemp("stage1"), CLASSES, LENGTH)


def train(index: Path, stage1: tuple[Path, Path], out: Path, lr: float) -> dict:
    spec = training(ConvFusionSpec, {"lr": lr, "steps": 2}, length=LENGTH, crop=CROP, batch_size=3, stage="layer2")
    rc = main(["train", "--kind", "conv_fusion", "--spec", spec, "--index", str(index), "--split", "1", "--threads",
               "0", "--init", str(stage1[0]), str(stage1[1]), "--out", str(out)])
    assert rc == 0 and not Path(f"{out}.resume").exists()
    return checkpoint.load(out)


def test_trains_from_the_stage1_streams(index, stage1, tmp_path):
    rgb, flow = (checkpoint.load(p)["state_dict"] for p in stage1)
    frozen = train(index, stage1, tmp_path / "lr0.pt", lr=0.0)
    assert frozen["kind"] == "conv_fusion" and frozen["config"]["stage"] == "layer2"
    assert torch.equal(frozen["state_dict"]["rgb_trunk.0.weight"], rgb["backbone.conv1.weight"])
    assert torch.equal(frozen["state_dict"]["tower.0.0.conv1.weight"], flow["backbone.layer3.0.conv1.weight"])
    assert torch.equal(frozen["state_dict"]["fc.weight"], flow["fc.weight"])
    trained = train(index, stage1, tmp_path / "lr.pt", lr=0.1)
    assert not torch.equal(trained["state_dict"]["fuse.0.weight"], frozen["state_dict"]["fuse.0.weight"])
    assert [h["step"] for h in trained["history"]] == [1, 2]  # 2 steps per epoch: a history row each


def test_scorer_and_evaluate_write_the_fused_scores(index, stage1, tmp_path):
    net, config = conv_fusion.from_stage1(*stage1, "layer3")
    path = tmp_path / "cf.pt"
    checkpoint.save(path, net, "conv_fusion", config, [])
    modalities, score = kinds.scorer(path, torch.device("cpu"))
    assert modalities == ("rgb", "flow")
    clips = {"rgb": torch.randn(2, 2, 3, CROP, CROP), "flow": torch.randn(2, 2, 2 * LENGTH, CROP, CROP)}
    with torch.no_grad():
        torch.testing.assert_close(score(clips)["fused"], net.eval()(clips["rgb"], clips["flow"]))
    out = tmp_path / "scores.npz"
    spec = evaluation(test_segments=2, crops=1, length=LENGTH, crop=CROP)
    assert main(["evaluate", "--spec", spec, "--index", str(index), "--split", "1", "--threads", "0", "--model",
                 str(path), "--out", str(out)]) == 0
    assert load_scores(out)["fused"].shape == (VIDEOS, CLASSES)


def test_rejects_swapped_streams(stage1):
    with pytest.raises(ValueError, match="expected an RGB and a flow stream"):
        conv_fusion.from_stage1(stage1[1], stage1[0], "layer2")
