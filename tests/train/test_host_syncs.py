"""Training steps read nothing back from the device: the host waits on the GPU only at progress refreshes, epoch
ends and checkpoints, never once per step.

Each case runs the real training run (``train.run.train``: the kind's start, the real dataset on shards, the
Trainer, the kind's step) for 1 and for 3 steps of one epoch and counts the host's reads of tensor values; the
two counts must be equal. On the CPU a read costs nothing, so the reads are counted where they are made (a
mock: the Tensor methods that copy to the host, and the kernels whose result the host must wait for); where
CUDA exists the same runs are counted by CUDA's own sync checker (``torch.cuda.set_sync_debug_mode``).
"""

from __future__ import annotations

import functools
import math
import warnings
from pathlib import Path

import pytest
import torch
from specs import training
from torch.utils._python_dispatch import TorchDispatchMode

from twostream import kinds
from twostream.specs import CMASpec, CMMPSpec, ConvFusionSpec, StreamSpec, parse
from twostream.train import engine
from twostream.train.run import train

# Tensor methods that hand a tensor's values to Python (on a CUDA tensor each waits for the GPU).
METHODS = ("item", "tolist", "cpu", "numpy", "__bool__", "__int__", "__float__", "__index__", "__array__")
# Kernels whose result the host needs before it can go on: a scalar read, or an output sized by the values.
KERNELS = {"_local_scalar_dense", "is_nonzero", "equal", "nonzero", "masked_select", "_unique2", "unique_dim",
           "unique_consecutive", "repeat_interleave"}


@pytest.fixture
def host_reads(monkeypatch):
    """``host_reads(fn)``: the host reads of tensor values that ``fn()`` makes (calls of ``METHODS`` and
    ``KERNELS``), by name."""
    seen: list[str] = []
    active = [False]

    def counted(name: str, method):
        @functools.wraps(method)
        def wrapper(*args, **kwargs):
            if active[0]:
                seen.append(name)
            return method(*args, **kwargs)

        return wrapper

    for name in METHODS:
        monkeypatch.setattr(torch.Tensor, name, counted(name, getattr(torch.Tensor, name)))

    class Kernels(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            if func._schema.name.split("::")[-1] in KERNELS:
                seen.append(str(func))
            return func(*args, **(kwargs or {}))

    def count(fn) -> list[str]:
        seen.clear()
        active[0] = True
        try:
            with Kernels():
                fn()
        finally:
            active[0] = False
        return sorted(seen)

    return count


CASES = {  # kind, its spec class, extra spec values, init checkpoints (from cma_data)
    "stream-rgb": ("stream", StreamSpec, {"modality": "rgb", "depth": 10, "pretrained": "none"}, []),
    "stream-flow": ("stream", StreamSpec, {"modality": "flow", "depth": 10, "pretrained": "none"}, []),
    "cmmp": ("cmmp", CMMPSpec, {"variant": "cmmp"}, ["rgb", "flow"]),
    "cma": ("cma", CMASpec, {"iteration": 1, "pretrained": "none"}, ["flow"]),
    "conv_fusion": ("conv_fusion", ConvFusionSpec, {}, ["rgb", "flow"]),
}


def run(cma_data: dict, tmp_path: Path, case: str, decode: str, device: str, steps: int) -> None:
    """``twostream train`` of one case for ``steps`` steps (6 training videos, batch 2: one epoch is 3 steps)."""
    kind, cls, values, init = CASES[case]
    spec = parse(cls, training(cls, {"lr": 0.01, "steps": steps}, **values, length=5, decode=decode, device=device,
                               workers=0))
    out = tmp_path / f"{case}-{decode}-{steps}.pt"
    train(kinds.KINDS[kind], spec, index=str(cma_data["index"]), split=1, init=[str(cma_data[i]) for i in init],
          out=str(out), threads=1)
    assert out.is_file()


@pytest.mark.parametrize("decode", ["cpu", "gpu"])
@pytest.mark.parametrize("case", list(CASES))
def test_steps_read_nothing_back_from_the_device(cma_data, tmp_path, monkeypatch, host_reads, case, decode) -> None:
    monkeypatch.setattr(engine, "LOG_SECONDS", math.inf)  # no progress refresh (one read each) in a slow run
    one, three = (host_reads(lambda: run(cma_data, tmp_path, case, decode, "cpu", steps)) for steps in (1, 3))
    assert one == three, f"reads in 1 step: {one}; in 3: {three}"


def test_the_counter_sees_a_read_per_step(cma_data, tmp_path, monkeypatch, host_reads) -> None:
    """The mock catches a step that reads its loss (as the toy step of test_engine does)."""
    monkeypatch.setattr(engine, "LOG_SECONDS", math.inf)
    stream = kinds.KINDS["stream"].code()
    step = stream.step

    def reading(config, device):
        inner = step(config, device)

        def run_step(model, batch):
            loss, logs = inner(model, batch)
            return loss, {**logs, "read": loss.item()}

        return run_step

    monkeypatch.setattr(stream, "step", reading)
    one, three = (host_reads(lambda: run(cma_data, tmp_path, "stream-rgb", "cpu", "cpu", steps)) for steps in (1, 3))
    assert len(three) == len(one) + 2


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA (the mock above runs everywhere)")
@pytest.mark.parametrize("decode", ["cpu", "gpu"])
@pytest.mark.parametrize("case", list(CASES))
def test_cuda_steps_do_not_synchronise(cma_data, tmp_path, monkeypatch, case, decode) -> None:
    monkeypatch.setattr(engine, "LOG_SECONDS", math.inf)
    counts = []
    for steps in (1, 3):
        torch.cuda.set_sync_debug_mode("warn")
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                run(cma_data, tmp_path, case, decode, "cuda", steps)
        finally:
            torch.cuda.set_sync_debug_mode("default")
        counts.append(sum("synchroniz" in str(w.message) for w in caught))
    assert counts[0] == counts[1]
