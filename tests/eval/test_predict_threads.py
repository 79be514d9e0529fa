"""Evaluation's scores do not depend on torch's thread count, bit for bit, for every model kind.

The workflow relies on it: on a CPU-only machine an evaluation job reserves one core (so that it runs beside a
training job, workflow/rules/common.smk) while training jobs keep a fixed thread count, because training's
gradient sums do depend on it (the last test shows that they do, so the first is not vacuous).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from twostream.data.dataset import TSNDataset
from twostream.eval.predict import predict
from twostream.kinds import KINDS, checkpoint_scorer
from twostream.models import checkpoint

CLASSES = 3


def configs() -> dict[str, tuple[str, dict]]:
    rgb = checkpoint.stream_config("rgb", 10, CLASSES, 0.5, 5)
    flow = checkpoint.stream_config("flow", 10, CLASSES, 0.5, 5)
    return {
        "stream": ("stream", flow),
        "cmmp": ("cmmp", {"variant": "cmmp", "fusion": "cmmp", "adversarial": True, "per_sample": False,
                          "rgb": rgb, "flow": flow}),
        "cma": ("cma", {"rgb": rgb, "flow": flow, "nonlocal_rgb": True, "iteration": 1, "trained": "rgb"}),
        "conv_fusion": ("conv_fusion", {"stage": "layer2", "rgb": rgb, "flow": flow}),
    }


@pytest.fixture
def threads():
    before = torch.get_num_threads()
    yield torch.set_num_threads
    torch.set_num_threads(before)


@pytest.mark.parametrize("name", list(configs()))
def test_scores_are_the_same_at_one_and_two_threads(cma_data, threads, name) -> None:
    kind, config = configs()[name]
    torch.manual_seed(0)
    ckpt = {"kind": kind, "config": config, "state_dict": KINDS[kind].code().build(config).state_dict()}
    modalities, score = checkpoint_scorer(ckpt, torch.device("cpu"))
    index = pd.read_csv(cma_data["index"])
    videos = index[index["split1"] == "test"].reset_index(drop=True)
    data = TSNDataset(videos, modalities, segments=2, length=5, crop=28, train=False, crops=10,
                      decode="cpu")
    scores = []
    for n in (1, 2):
        threads(n)
        scores.append(predict(score, data, modalities, torch.device("cpu"), batch_size=3, workers=0,
                              precision="fp32"))
    assert scores[0].keys() == scores[1].keys()
    for key in scores[0]:
        assert np.array_equal(scores[0][key], scores[1][key]), key


def test_training_steps_differ_between_one_and_two_threads(threads) -> None:
    """Why training jobs do not take the cores they reserve: the same steps give other weights at 2 threads."""
    weights = []
    for n in (1, 2):
        threads(n)
        torch.manual_seed(0)
        net = checkpoint.build_stream(checkpoint.stream_config("rgb", 10, CLASSES, 0.5, 5))
        opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
        x = torch.randn(18, 3, 28, 28, generator=torch.Generator().manual_seed(1))
        for _ in range(2):
            opt.zero_grad()
            net(x).pow(2).mean().backward()
            opt.step()
        weights.append(torch.cat([p.detach().flatten() for p in net.parameters()]))
    assert not torch.equal(weights[0], weights[1])
