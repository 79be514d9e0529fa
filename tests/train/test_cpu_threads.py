"""Why every torch job on a CPU-only machine keeps 2 torch threads (workflow/rules/common.smk,
tests/workflow/test_threads.py) although it reserves one core: training's weights depend on the thread count.

Evaluation's scores moved too, by about one float32 ulp (1e-7), in the CMA scores of the tiny end-to-end run at
1 thread (the tables were equal), so evaluation jobs keep 2 threads as well.
"""

from __future__ import annotations

import pytest
import torch

from twostream.models import checkpoint

CLASSES = 3


@pytest.fixture
def threads():
    before = torch.get_num_threads()
    yield torch.set_num_threads
    torch.set_num_threads(before)


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
