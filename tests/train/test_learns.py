"""Every training stage learns: each kind's real start and step, run by the Trainer, lower the loss on a tiny problem.

The problem (``two_bit_data``): 4 classes, class = 2a + b; every video is one fixed input (one snippet position,
crop = frame size): RGB frames dark or bright by bit a, flow fields pointing left or right by bit b, each under
noise of its own. A stream alone cannot tell the two classes of its bit apart (loss ln 2); a network that combines
the streams can fit every video. So every stage has something to fit where the pipeline starts it: a stream from
scratch its own bit; CMMP and conv fusion, on the trained stage-1 streams, the other stream's bit; CMA iteration 1
(a new RGB branch on the flow stream) its own bit and, through its CMA blocks, the flow's; iteration 2 (the flow
branch) the RGB bit. Iteration 3 starts where iteration 1 left the RGB branch, already fitted; a stage that starts
fitted must stay so. No dropout, so the curves are those of the optimisation alone.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

from specs import schedule

from twostream.data.dataset import TSNDataset, select
from twostream.data.shards import write_shard
from twostream.models import checkpoint
from twostream.train import cma, cmmp, conv_fusion, stream
from twostream.train.engine import StepFn, Trainer

CLASSES, CLIPS, SIZE, LENGTH, SEGMENTS = 4, 16, 16, 2, 2
FRAMES = LENGTH + 1  # one snippet position
BATCH, STEPS, WINDOW = 16, 32, 8  # 4 steps per epoch; the first and last WINDOW steps are compared
LR, DROPOUT = 0.01, 0.0  # lr as in the embedded default's stages
FITTED = 0.01  # a mean loss this low is a fit: the last window may hover there
CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def one_thread():
    """The module's fixtures train too: one intra-op thread for them as for the tests (tests/train/conftest.py)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def two_bit_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Shard index of CLIPS training videos per class 2a + b (their RGB frames of bit a, flow fields of bit b)."""
    root = tmp_path_factory.mktemp("two_bit")
    rng = np.random.default_rng(0)
    bright = np.array([64, 192]).reshape(2, 1, 1, 1, 1, 1)  # bit a: RGB brightness
    rgb_images = np.clip(rng.normal(0, 32, (2, CLIPS, 1, SIZE, SIZE, 3)) + bright, 0, 255).astype(np.uint8)
    flow = rng.normal(128, 16, (2, CLIPS, 1, SIZE, SIZE, 2))
    flow[..., 0] += np.array([-60, 60]).reshape(2, 1, 1, 1, 1)  # bit b: horizontal flow direction
    flow_fields = np.clip(flow, 1, 255).astype(np.uint8)
    rows = []
    for label in range(CLASSES):
        a, b = divmod(label, 2)
        for clip in range(CLIPS):
            shard = root / f"v{label}_{clip}.h5"
            write_shard(shard, rgb_images[a, clip].repeat(FRAMES, 0), flow_fields[b, clip].repeat(FRAMES - 1, 0),
                        {"video_id": shard.stem, "label": label})
            rows.append({"video_id": shard.stem, "label": label, "shard": str(shard), "frames": FRAMES,
                         "split1": "train"})
    path = root / "shards.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def fit(net: torch.nn.Module, config: dict[str, Any], step: StepFn, modalities: tuple[str, ...], index: Path,
        tmp: Path) -> list[float]:
    """Train the parameters ``net`` leaves trainable for STEPS steps with the Trainer (SGD, momentum 0.9, weight
    decay 5e-4 as every stage of the embedded default): the loss of every step."""
    data = TSNDataset(select(pd.read_csv(index), 1, "train"), modalities, segments=SEGMENTS, length=LENGTH,
                      crop=SIZE, hflip=False, decode="cpu")
    losses = []

    def observed(model, batch):
        loss, logs = step(model, batch)
        losses.append(loss.item())
        return loss, logs

    params = [p for p in net.parameters() if p.requires_grad]
    Trainer(net, params, data, schedule(steps=STEPS, lr=LR, batch_size=BATCH), seed=0, resume=tmp / "resume",
            run_id=config, device=CPU).fit(observed)
    return losses


def assert_learns(losses: list[float], stage: str) -> None:
    """The mean loss of the last WINDOW steps is below the first WINDOW's (or, for a stage that starts fitted, still
    a fit)."""
    first, last = np.mean(losses[:WINDOW]), np.mean(losses[-WINDOW:])
    assert last < max(0.98 * first, FITTED), (f"{stage}: mean training loss {first:.4f} over its first {WINDOW} steps, "
                                 f"{last:.4f} over its last {WINDOW}")


@pytest.fixture(scope="module")
def stage1(one_thread, two_bit_data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Both stage-1 streams, trained from scratch, and their losses."""
    root = tmp_path_factory.mktemp("stage1")
    out: dict[str, Any] = {}
    for modality in ("rgb", "flow"):
        torch.manual_seed(0)
        net, config = stream.start(modality, 10, CLASSES, DROPOUT, LENGTH, "none")
        out[f"{modality}_losses"] = fit(net, config, stream.step(config, CPU), (modality,), two_bit_data, root)
        out[modality] = root / f"{modality}.pt"
        checkpoint.save(out[modality], net, "stream", config, [])
    return out


@pytest.mark.parametrize("modality", ["rgb", "flow"])
def test_each_stream_learns(stage1, modality):
    assert_learns(stage1[f"{modality}_losses"], f"{modality} stream")


def test_a_stream_alone_cannot_fit_the_problem(stage1):
    """What the later stages fit is the other modality's bit: each stream ends near ln 2, not at 0."""
    for modality in ("rgb", "flow"):
        assert np.mean(stage1[f"{modality}_losses"][-WINDOW:]) > 0.9 * math.log(2)


@pytest.mark.parametrize("slug", list(cmmp.VARIANTS))
def test_each_cmmp_variant_learns(stage1, two_bit_data, tmp_path, slug):
    net, config = cmmp.from_stage1(stage1["rgb"], stage1["flow"], slug, per_sample=True)
    assert_learns(fit(net, config, cmmp.step(config, CPU), ("rgb", "flow"), two_bit_data, tmp_path), f"CMMP {slug}")


def test_conv_fusion_learns(stage1, two_bit_data, tmp_path):
    net, config = conv_fusion.from_stage1(stage1["rgb"], stage1["flow"], "layer2")
    assert_learns(fit(net, config, conv_fusion.step(config, CPU), conv_fusion.MODALITIES, two_bit_data, tmp_path),
                  "conv fusion")


@pytest.fixture(scope="module")
def cma_iterations(stage1, two_bit_data: Path, tmp_path_factory: pytest.TempPathFactory) -> list[list[float]]:
    """CMA iterations 1-3, each started from the one before (iteration 1 from the flow stream): their losses."""
    root = tmp_path_factory.mktemp("cma")
    init, losses = stage1["flow"], []
    for iteration in (1, 2, 3):
        torch.manual_seed(0)
        net, config = cma.start(iteration, init, pretrained="none", nonlocal_rgb=False, dropout=DROPOUT)
        losses.append(fit(net, config, cma.step(config, CPU), cma.MODALITIES, two_bit_data, root))
        init = root / f"iter{iteration}.pt"
        checkpoint.save(init, net, "cma", config, [])
    return losses


@pytest.mark.parametrize("iteration", [1, 2, 3])
def test_each_cma_iteration_learns(cma_iterations, iteration):
    assert_learns(cma_iterations[iteration - 1], f"CMA iteration {iteration} ({cma.trained_branch(iteration)} branch)")
