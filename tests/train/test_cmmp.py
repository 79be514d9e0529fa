"""CMMP stage 2: variant objectives, starting from stage 1, the checkpoint scorer, the cmmp-train command."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import torch
from specs import evaluation, training

from twostream import kinds
from twostream.cli import main
from twostream.data.dataset import TSNDataset
from twostream.data.transforms import to_input
from twostream.eval.predict import load_scores
from twostream.models import checkpoint
from twostream.models.cmmp import build
from twostream.models.losses import adversarial_loss, plain_loss
from twostream.specs import CMMPSpec
from twostream.train import cmmp

CLASSES, VIDEOS, FRAMES, SIZE, CROP, LENGTH = 3, 6, 8, 32, 28, 2



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


def batch(index: Path) -> dict:
    """The first VIDEOS // 2 training items, collated, as a Trainer step receives them."""
    videos = pd.read_csv(index).query("split1 == 'train'").reset_index(drop=True)
    data = TSNDataset(videos, ("rgb", "flow"), segments=3, length=LENGTH, crop=CROP, hflip=False, decode="cpu")
    return torch.utils.data.default_collate([data[i] for i in range(VIDEOS // 2)])


def states_equal(a: torch.nn.Module, b: dict[str, torch.Tensor]) -> bool:
    return all(torch.equal(v, b[k]) for k, v in a.state_dict().items())


@pytest.mark.parametrize("slug", list(cmmp.VARIANTS))
def test_step_uses_the_variants_objective(slug, index, stage1):
    net, config = cmmp.from_stage1(*stage1, slug, True)
    net.eval()  # no dropout: the step and the reference see the same scores
    b = batch(index)
    loss, logs = cmmp.step(config, torch.device("cpu"))(net, b)
    with torch.no_grad():
        s_a, s_m = net(to_input(b["rgb"], "rgb"), to_input(b["flow"], "flow"))
    al, _ = adversarial_loss(s_a, s_m, b["label"])
    ce, _ = plain_loss(s_a, s_m, b["label"])
    assert abs(al.item() - ce.item()) > 1e-3  # the batch tells the two objectives apart
    expected = al if cmmp.VARIANTS[slug].adversarial else ce
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    assert {"loss_a", "loss_m", "acc_a", "acc_m", "acc"} <= set(logs)


def test_per_sample_flag_reaches_the_adversarial_loss(monkeypatch):
    seen = []
    monkeypatch.setattr(cmmp, "adversarial_loss", lambda *a, per_sample: seen.append(per_sample) or (0, {}))
    for per_sample in (True, False):
        cmmp.objective(cmmp.VARIANTS["cmmp"], per_sample)(None, None, None)
    assert seen == [True, False]


@pytest.mark.parametrize("slug", ["sum", "cmmp"])
def test_from_stage1_starts_from_the_stage1_weights(slug, stage1):
    net, config = cmmp.from_stage1(*stage1, slug, True)
    for stream, path in zip((net.rgb, net.flow), stage1):
        assert states_equal(stream, checkpoint.load(path)["state_dict"])
    assert net.fusion == cmmp.VARIANTS[slug].fusion == config["fusion"]
    assert hasattr(net, "message_a") == (slug == "cmmp")


def test_from_stage1_rejects_swapped_streams(stage1):
    with pytest.raises(ValueError, match="expected an RGB and a flow stream"):
        cmmp.from_stage1(stage1[1], stage1[0], "cmmp", True)


def train(index: Path, stage1: tuple[Path, Path], out: Path, lr: float) -> dict:
    """One training step of the CMMP variant (no momentum, no weight decay); the checkpoint."""
    spec = training(CMMPSpec, {"lr": lr, "steps": 1, "momentum": 0, "weight_decay": 0}, segments=3, length=LENGTH,
                    crop=CROP, batch_size=3, device="auto", variant="cmmp", per_sample_al=True)
    rc = main(["train", "--kind", "cmmp", "--spec", spec, "--index", str(index), "--split", "1", "--threads", "0",
               "--init", str(stage1[0]), str(stage1[1]), "--out", str(out)])
    assert rc == 0 and not Path(f"{out}.resume").exists()
    return checkpoint.load(out)


def trainable(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Weights without BatchNorm's running statistics (which move in any training step)."""
    return {k: v for k, v in state.items() if not k.endswith(("running_mean", "running_var", "num_batches_tracked"))}


def test_cmmp_train_starts_from_stage1_and_trains(index, stage1, tmp_path):
    rgb, flow = (checkpoint.load(p)["state_dict"] for p in stage1)
    stage1_weights = {**{f"rgb.{k}": v for k, v in trainable(rgb).items()},
                      **{f"flow.{k}": v for k, v in trainable(flow).items()}}
    frozen = train(index, stage1, tmp_path / "lr0.pt", lr=0.0)
    assert frozen["kind"] == "cmmp" and frozen["config"]["variant"] == "cmmp"
    assert all(torch.equal(frozen["state_dict"][k], v) for k, v in stage1_weights.items())
    trained = train(index, stage1, tmp_path / "lr.pt", lr=0.1)
    assert any(not torch.equal(trained["state_dict"][k], v) for k, v in stage1_weights.items())
    assert any(not torch.equal(trained["state_dict"][k], frozen["state_dict"][k]) for k in trained["state_dict"]
               if k.startswith("message_"))


def test_cmmp_train_is_deterministic(index, stage1, tmp_path):
    """The seed fixes the message generators' initialisation as well as sampling and dropout."""
    torch.manual_seed(1)
    first = train(index, stage1, tmp_path / "a.pt", lr=0.1)["state_dict"]
    torch.manual_seed(2)
    second = train(index, stage1, tmp_path / "b.pt", lr=0.1)["state_dict"]
    assert all(torch.equal(v, second[k]) for k, v in first.items())


def test_cmmp_train_rejects_a_flow_stream_of_another_length(index, stage1, tmp_path):
    with pytest.raises(SystemExit, match="reads 4 channels"):
        main(["train", "--kind", "cmmp", "--spec", training(CMMPSpec, {"lr": 0.1, "steps": 1}, length=5, variant="sum"),
              "--index", str(index), "--split", "1", "--threads", "0", "--init", str(stage1[0]), str(stage1[1]),
              "--out", str(tmp_path / "x.pt")])


@pytest.fixture(scope="module")
def trained(stage1, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CMMP checkpoint as cmmp-train writes it (stage-1 weights plus fresh LSTMs)."""
    net, config = cmmp.from_stage1(*stage1, "cmmp", True)
    path = tmp_path_factory.mktemp("stage2") / "cmmp.pt"
    checkpoint.save(path, net, "cmmp", config, [])
    return path


def test_scorer_returns_each_streams_scores(trained):
    modalities, score = kinds.scorer(trained, torch.device("cpu"))
    assert modalities == ("rgb", "flow")
    net = build(checkpoint.load(trained)["config"])
    net.load_state_dict(checkpoint.load(trained)["state_dict"])
    net.eval()
    torch.manual_seed(1)
    clips = {"rgb": torch.randn(4, 3, 3, CROP, CROP), "flow": torch.randn(4, 3, 2 * LENGTH, CROP, CROP)}
    with torch.no_grad():
        out = score(clips)
        s_a, s_m = net(clips["rgb"], clips["flow"])
    assert set(out) == {"rgb", "flow"} and out["rgb"].shape == (4, CLASSES)
    torch.testing.assert_close(out["rgb"], s_a)
    torch.testing.assert_close(out["flow"], s_m)
    assert not torch.allclose(out["rgb"], out["flow"])


def test_evaluate_writes_both_streams_scores(index, trained, tmp_path):
    out = tmp_path / "scores.npz"
    spec = evaluation(test_segments=2, crops=5, length=LENGTH, crop=CROP, batch_size=4, device="auto")
    assert main(["evaluate", "--spec", spec, "--index", str(index), "--split", "1", "--threads", "0", "--model",
                 str(trained), "--out", str(out)]) == 0
    scores = load_scores(out)
    assert scores["rgb"].shape == scores["flow"].shape == (VIDEOS, CLASSES)
    assert list(scores["label"]) == [i % CLASSES for i in range(VIDEOS)]
