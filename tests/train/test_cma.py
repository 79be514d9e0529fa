"""CMA iterative training: which branch each iteration trains, the chain of iterations, lr reset, the scorer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from specs import evaluation, schedule, training

from twostream import kinds
from twostream.cli import main
from twostream.specs import CMASpec
from twostream.data.dataset import TSNDataset, select
from twostream.eval.scores import load_scores
from twostream.models import checkpoint
from twostream.models.cma import build, tsn_forward_pair
from twostream.train import cma
from twostream.train.distributed import GlobalBatchNorm, sync_batchnorm
from twostream.train.engine import Trainer

RUN = ["--split", "1", "--threads", "1"]


def train(cma_data: dict[str, Path], out: Path, iteration: int, init: Path, nonlocal_rgb: bool = False,
          **schedule) -> dict:
    """Run ``twostream train --kind cma`` for one iteration (lr 0.05, one step unless ``schedule`` says otherwise)."""
    spec = training(CMASpec, {"lr": 0.05, **({} if "epochs" in schedule else {"steps": 1}), **schedule},
                    iteration=iteration, pretrained="none", dropout=0.5, nonlocal_rgb=nonlocal_rgb)
    assert main(["train", "--kind", "cma", "--spec", spec, "--index", str(cma_data["index"]), *RUN,
                 "--init", str(init), "--out", str(out)]) == 0
    return checkpoint.load(out)


def branch_state(net: torch.nn.Module, branch: str) -> dict[str, torch.Tensor]:
    """Every parameter and buffer (BN statistics included) of one branch, its CMA blocks included."""
    modules = {"rgb": ("rgb.", "rgb_cma.", "rgb_nonlocal."), "flow": ("flow.", "flow_cma.")}[branch]
    return {k: v.clone() for k, v in net.state_dict().items() if k.startswith(modules)}


def changed(before: dict[str, torch.Tensor], after: dict[str, torch.Tensor]) -> set[str]:
    return {k for k in before if not torch.equal(before[k], after[k])}


def test_trained_branch_alternates_from_rgb():
    assert [cma.trained_branch(n) for n in (1, 2, 3, 4)] == ["rgb", "flow", "rgb", "flow"]
    with pytest.raises(ValueError, match="start at 1"):
        cma.trained_branch(0)


@pytest.mark.parametrize("iteration", [1, 2])
def test_an_iteration_trains_its_branch_with_the_other_frozen(cma_data, tmp_path, iteration):
    init = cma_data["flow"]
    if iteration == 2:
        init = tmp_path / "iter1.pt"
        train(cma_data, init, 1, cma_data["flow"], nonlocal_rgb=True)
    net, config = cma.iteration_start(iteration, init, pretrained="none", nonlocal_rgb=True, dropout=0.5)
    for blocks in (net.rgb_cma, net.flow_cma):  # each output now depends on the other branch, so its loss reaches it
        torch.nn.init.normal_(blocks["layer3_0"].bn.weight)
    trained, frozen = config["trained"], cma.MODALITIES[iteration % 2]
    assert (trained, frozen) == (("rgb", "flow") if iteration == 1 else ("flow", "rgb"))
    before = {b: branch_state(net, b) for b in cma.MODALITIES}
    data = TSNDataset(select(pd.read_csv(cma_data["index"]), 1, "train"), cma.MODALITIES, segments=2, length=5,
                      crop=24, hflip=False, decode="cpu")
    sched = schedule(steps=1, lr=0.1, batch_size=2)
    params = [p for p in net.parameters() if p.requires_grad]  # what `twostream cma-train` trains
    history = Trainer(net, params, data, sched, seed=0, resume=tmp_path / "resume", run_id="test",
                      device=torch.device("cpu")).fit(cma.step(config, torch.device("cpu")))
    assert len(history) == 1 and np.isfinite(history[0]["loss"])
    assert not changed(before[frozen], branch_state(net, frozen))
    moved = changed(before[trained], branch_state(net, trained))
    prefix = trained + "."
    stream = {k for k in before[trained] if k.startswith(prefix) and not k.endswith("num_batches_tracked")}
    assert stream <= moved  # every weight (decay included) and every BN statistic of the trained stream
    assert f"{trained}_cma.layer2_0.bn.weight" in moved


def test_iteration_1_starts_from_the_flow_stream_and_a_new_rgb_branch(cma_data):
    flow, _ = checkpoint.load_stream(cma_data["flow"])
    rgb, _ = checkpoint.load_stream(cma_data["rgb"])
    net, config = cma.iteration_start(1, cma_data["flow"], pretrained="none", nonlocal_rgb=False, dropout=0.7)
    for name, value in flow.state_dict().items():
        assert torch.equal(net.flow.state_dict()[name], value)
    assert not torch.equal(net.rgb.backbone.conv1.weight, rgb.backbone.conv1.weight)
    assert config["iteration"] == 1 and config["trained"] == "rgb" and config["rgb"]["in_channels"] == 3
    assert net.rgb.dropout.p == net.flow.dropout.p == config["rgb"]["dropout"] == config["flow"]["dropout"] == 0.7


def test_iteration_n_starts_from_iteration_n_minus_1(cma_data, tmp_path):
    first = train(cma_data, tmp_path / "iter1.pt", 1, cma_data["flow"])
    second = train(cma_data, tmp_path / "iter2.pt", 2, tmp_path / "iter1.pt", lr=1e-9)
    assert second["config"]["iteration"] == 2 and second["config"]["trained"] == "flow"
    # Parameters (not BN statistics, which move in train mode) of both branches barely move at lr 1e-9.
    names = {name for name, _ in build(first["config"]).named_parameters()}
    for name in names:
        torch.testing.assert_close(second["state_dict"][name], first["state_dict"][name], rtol=0, atol=1e-6)
    frozen = {k for k in first["state_dict"] if k.startswith(("rgb.", "rgb_cma."))}
    assert all(torch.equal(second["state_dict"][k], first["state_dict"][k]) for k in frozen)


def test_an_iteration_only_starts_from_its_predecessor(cma_data, tmp_path):
    train(cma_data, tmp_path / "iter1.pt", 1, cma_data["flow"])
    with pytest.raises(ValueError, match="iteration 3 starts from 2"):
        cma.iteration_start(3, tmp_path / "iter1.pt", pretrained="none", nonlocal_rgb=False, dropout=0.5)
    with pytest.raises(ValueError, match="expected a CMA model"):
        cma.iteration_start(2, cma_data["flow"], pretrained="none", nonlocal_rgb=False, dropout=0.5)
    with pytest.raises(ValueError, match="starts from the flow stream"):
        cma.iteration_start(1, cma_data["rgb"], pretrained="none", nonlocal_rgb=False, dropout=0.5)
    with pytest.raises(ValueError, match="nonlocal"):
        cma.iteration_start(2, tmp_path / "iter1.pt", pretrained="none", nonlocal_rgb=True, dropout=0.5)


def test_the_learning_rate_is_reset_at_each_iteration(cma_data, tmp_path):
    """Iteration 1 ends at lr / 10 (a step after epoch 1); iteration 2 starts again from --lr."""
    first = train(cma_data, tmp_path / "iter1.pt", 1, cma_data["flow"], lr=0.02, epochs=2, milestones=[1])
    assert [h["lr"] for h in first["history"]] == pytest.approx([0.02] * 3 + [0.002] * 3)  # a row per step
    second = train(cma_data, tmp_path / "iter2.pt", 2, tmp_path / "iter1.pt", lr=0.02, epochs=1)
    assert second["history"][0]["lr"] == pytest.approx(0.02)


def test_the_scorer_returns_both_branches_segment_averaged(cma_data, tmp_path):
    ckpt = train(cma_data, tmp_path / "iter1.pt", 1, cma_data["flow"])
    modalities, score = kinds.scorer(tmp_path / "iter1.pt", torch.device("cpu"))
    assert modalities == ("rgb", "flow")
    clips = {"rgb": torch.randn(2, 3, 3, 24, 24), "flow": torch.randn(2, 3, 10, 24, 24)}
    out = score(clips)
    net = build(ckpt["config"])
    net.load_state_dict(ckpt["state_dict"])
    expected = tsn_forward_pair(net.eval(), clips["rgb"], clips["flow"])
    assert set(out) == {"rgb", "flow"}
    for name, want in zip(("rgb", "flow"), expected):
        assert out[name].shape == (2, 3)
        torch.testing.assert_close(out[name], want)


def test_evaluate_stores_both_outputs_and_iteration_1_keeps_the_flow_stream(cma_data, tmp_path):
    """After iteration 1 the flow output is the stage-1 flow stream's (frozen, its CMA blocks still the identity)."""
    train(cma_data, tmp_path / "iter1.pt", 1, cma_data["flow"])
    test = ["--spec", evaluation(), "--index", str(cma_data["index"]), *RUN]
    assert main(["evaluate", *test, "--model", str(tmp_path / "iter1.pt"), "--out", str(tmp_path / "cma.npz")]) == 0
    assert main(["evaluate", *test, "--model", str(cma_data["flow"]), "--out", str(tmp_path / "flow.npz")]) == 0
    scores, flow = load_scores(tmp_path / "cma.npz"), load_scores(tmp_path / "flow.npz")
    assert scores["rgb"].shape == scores["flow"].shape == (6, 3) and len(scores["label"]) == 6
    np.testing.assert_allclose(scores["flow"], flow["flow"], rtol=0, atol=1e-5)


def test_distributed_training_synchronises_every_batchnorm_and_keeps_frozen_flags(cma_data):
    """Under torchrun the Trainer converts all BatchNorms (CMA blocks' included); the frozen branch stays frozen."""
    net, config = cma.iteration_start(1, cma_data["flow"], pretrained="none", nonlocal_rgb=False, dropout=0.5)
    cma.set_trainable(net, config["trained"])
    frozen = {n for n, p in net.named_parameters() if not p.requires_grad}
    synced = sync_batchnorm(net, torch.device("cpu"))
    norms = [m for m in synced.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    assert norms and all(isinstance(m, GlobalBatchNorm) for m in norms)
    assert frozen and {n for n, p in synced.named_parameters() if not p.requires_grad} == frozen