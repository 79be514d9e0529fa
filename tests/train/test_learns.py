"""Every training stage learns: each kind's ``twostream train`` run (its start, its step, the Trainer) lowers its
training loss on a tiny problem.

The problem (``two_bit_data``): 4 classes, class = 2a + b; every video is one fixed input (one snippet position,
crop = frame size): RGB frames dark or bright by bit a, flow fields pointing left or right by bit b, each under
noise of its own. A stream alone cannot tell apart the two classes that share its bit (loss ln 2); a network that
combines the streams can fit every video. So every stage has something to fit where the pipeline starts it: a
stream from scratch its own bit; CMMP and conv fusion, on the trained stage-1 streams, the other stream's bit; CMA
iteration 1 (a new RGB branch on the flow stream) its own bit and, through its CMA blocks, the flow's; iteration 2
(the flow branch) the RGB bit through its blocks. Iteration 3 continues the RGB branch, which iteration 1 fitted;
a stage that starts fitted must stay so. Dropout is off, so a curve shows the optimisation alone.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from specs import training

from twostream.data.shards import write_shard
from twostream.kinds import KINDS
from twostream.models import checkpoint
from twostream.specs import CMASpec, CMMPSpec, ConvFusionSpec, StreamSpec, parse
from twostream.train import cmmp, run

CLASSES, CLIPS, SIZE, LENGTH = 4, 16, 16, 2
FRAMES = LENGTH + 1  # one snippet position
STEPS = 32  # of 16 videos each: 4 steps per epoch
# As the embedded default's stages: lr 0.01; streams, CMMP and conv fusion divide it by 10 after two thirds of
# their run, CMA iterations when the epoch loss stops falling.
STEP_DOWN = {"lr": 0.01, "steps": STEPS, "milestones": [2 * STEPS // 3]}
PLATEAU = {"lr": 0.01, "steps": STEPS, "plateau_patience": 1}
SMALL = {"batch_size": CLASSES * CLIPS // 4, "crop": SIZE, "length": LENGTH, "segments": 2}
FITTED = 0.01  # a mean loss this low is a fit: a stage that starts there may hover there


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
                        {"video_id": shard.stem, "label": label}, quality=90)
            rows.append({"video_id": shard.stem, "label": label, "shard": str(shard), "frames": FRAMES,
                         "split1": "train"})
    path = root / "shards.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def train(kind: str, spec: object, init: list[Path], index: Path, out: Path) -> list[float]:
    """``twostream train --kind``'s run (the kind's start and step, the Trainer): the losses of its history."""
    run.train(KINDS[kind], spec, index=str(index), split=1, init=[str(p) for p in init], out=str(out), threads=1)
    return [h["loss"] for h in checkpoint.load(out)["history"]]


def assert_learns(losses: list[float], stage: str) -> None:
    """The mean loss over the last quarter of the run is below the first quarter's (or, for a stage that starts
    fitted, still a fit)."""
    n = max(len(losses) // 4, 1)
    first, last = np.mean(losses[:n]), np.mean(losses[-n:])
    assert last < max(0.98 * first, FITTED), (f"{stage}: mean training loss {first:.4f} over the first quarter "
                                              f"of its run, {last:.4f} over the last")


@pytest.fixture(scope="module")
def stage1(one_thread, two_bit_data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path | list]:
    """Both stage-1 streams, trained from scratch, and their losses."""
    root = tmp_path_factory.mktemp("stage1")
    out: dict[str, Path | list] = {}
    for modality in ("rgb", "flow"):
        spec = parse(StreamSpec, training(StreamSpec, STEP_DOWN, modality=modality, dropout=0.0, **SMALL))
        out[modality] = root / f"{modality}.pt"
        out[f"{modality}_losses"] = train("stream", spec, [], two_bit_data, out[modality])
    return out


@pytest.mark.parametrize("modality", ["rgb", "flow"])
def test_each_stream_learns(stage1, modality):
    assert_learns(stage1[f"{modality}_losses"], f"{modality} stream")


def test_a_stream_alone_cannot_fit_the_problem(stage1):
    """What the later stages fit is the other modality's bit: each stream ends near ln 2, not at 0."""
    for modality in ("rgb", "flow"):
        assert stage1[f"{modality}_losses"][-1] > 0.9 * math.log(2)


@pytest.mark.parametrize("variant", list(cmmp.VARIANTS))
def test_each_cmmp_variant_learns(stage1, two_bit_data, tmp_path, variant):
    spec = parse(CMMPSpec, training(CMMPSpec, STEP_DOWN, variant=variant, **SMALL))
    losses = train("cmmp", spec, [stage1["rgb"], stage1["flow"]], two_bit_data, tmp_path / "cmmp.pt")
    assert_learns(losses, f"CMMP {variant}")


def test_conv_fusion_learns(stage1, two_bit_data, tmp_path):
    spec = parse(ConvFusionSpec, training(ConvFusionSpec, STEP_DOWN, **SMALL))
    losses = train("conv_fusion", spec, [stage1["rgb"], stage1["flow"]], two_bit_data, tmp_path / "conv_fusion.pt")
    assert_learns(losses, "conv fusion")


@pytest.fixture(scope="module")
def cma_iterations(stage1, two_bit_data: Path, tmp_path_factory: pytest.TempPathFactory) -> list[list[float]]:
    """CMA iterations 1-3, each started from the one before (iteration 1 from the flow stream): their losses."""
    root = tmp_path_factory.mktemp("cma")
    init, losses = stage1["flow"], []
    for iteration in (1, 2, 3):
        spec = parse(CMASpec, training(CMASpec, PLATEAU, iteration=iteration, dropout=0.0, **SMALL))
        out = root / f"iter{iteration}.pt"
        losses.append(train("cma", spec, [init], two_bit_data, out))
        init = out
    return losses


@pytest.mark.parametrize("iteration", [1, 2, 3])
def test_each_cma_iteration_learns(cma_iterations, iteration):
    assert_learns(cma_iterations[iteration - 1], f"CMA iteration {iteration}")
