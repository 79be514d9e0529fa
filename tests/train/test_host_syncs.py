"""Training steps do not wait on the device: the host syncs with the GPU only at progress refreshes, epoch ends and
checkpoints, never once per step.

Each case runs the real training run (``train.run.train``: the kind's start, the real dataset on shards, the
Trainer, the kind's step) for 1 and for 3 steps of one epoch and counts what would sync on a GPU; the two counts
must be equal. On the CPU nothing syncs, so a mock counts where it would: reads of tensor values by the host (the
Tensor methods that copy to the host, the kernels whose result the host must wait for) and tensors made from host
data outside the loader (a blocking copy from pageable memory on CUDA: a constant built per step). Where CUDA
exists the same runs are counted by CUDA's own sync checker (``torch.cuda.set_sync_debug_mode``).
"""

from __future__ import annotations

import functools
import math
import sys
import warnings
from pathlib import Path

import pytest
import torch
from specs import training
from torch.utils._python_dispatch import TorchDispatchMode

from twostream import kinds
from twostream.data import transforms
from twostream.specs import CMASpec, CMMPSpec, ConvFusionSpec, StreamSpec, parse
from twostream.train import engine
from twostream.train.run import train

# Tensor methods that hand a tensor's values to Python (on a CUDA tensor each waits for the GPU).
METHODS = ("item", "tolist", "cpu", "numpy", "__bool__", "__int__", "__float__", "__index__", "__array__")
# Tensors made from host data: on CUDA a blocking copy from pageable memory (the loader's own, in its workers, aside).
CREATORS = ("tensor", "as_tensor", "from_numpy")
# Kernels whose result the host needs before it can go on: a scalar read, or an output sized by the values.
KERNELS = {"_local_scalar_dense", "is_nonzero", "equal", "nonzero", "masked_select", "_unique2", "unique_dim",
           "unique_consecutive", "repeat_interleave"}


@pytest.fixture
def host_reads(monkeypatch):
    """``host_reads(fn)``: what ``fn()`` does that would sync with a GPU (calls of ``METHODS``, ``KERNELS``,
    ``CREATORS`` and ``Tensor.new_tensor`` outside the DataLoader), by name."""
    seen: list[str] = []
    active = [False]

    def in_loader() -> bool:
        frame = sys._getframe(2)
        while frame is not None:
            if "torch/utils/data/" in frame.f_code.co_filename:
                return True
            frame = frame.f_back
        return False

    def counted(name: str, function, host_data: bool = False):
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            if active[0] and not (host_data and in_loader()):
                seen.append(name)
            return function(*args, **kwargs)

        return wrapper

    for name in METHODS:
        monkeypatch.setattr(torch.Tensor, name, counted(name, getattr(torch.Tensor, name)))
    for name in CREATORS:
        monkeypatch.setattr(torch, name, counted(name, getattr(torch, name), host_data=True))
    monkeypatch.setattr(torch.Tensor, "new_tensor", counted("new_tensor", torch.Tensor.new_tensor, host_data=True))

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
    """``twostream train`` of one case for ``steps`` steps (6 training videos, batch 2: one epoch is 3 steps), in a
    fresh process's state (its device constants not yet made)."""
    transforms.device_constants.cache_clear()
    kind, cls, values, init = CASES[case]
    spec = parse(cls, training(cls, {"lr": 0.01, "steps": steps}, **values, length=5, decode=decode, device=device,
                               workers=0))
    out = tmp_path / f"{case}-{decode}-{steps}.pt"
    train(kinds.KINDS[kind], spec, index=str(cma_data["index"]), split=1, init=[str(cma_data[i]) for i in init],
          out=str(out), threads=1)
    assert out.is_file()


# Every kind with the loader's decoding; the device decoding (flips, grey-level maps) with one stream and with two.
RUNS = [(case, "cpu") for case in CASES] + [("stream-flow", "gpu"), ("cmmp", "gpu")]


@pytest.mark.parametrize("case,decode", RUNS)
def test_steps_read_nothing_back_from_the_device(cma_data, tmp_path, monkeypatch, host_reads, case, decode) -> None:
    monkeypatch.setattr(engine, "LOG_SECONDS", math.inf)  # no progress refresh (one read each) in a slow run
    # history rows (one read each) at epoch ends only: an epoch here is 3 steps, a real one has hundreds and
    # RECORDS_PER_EPOCH rows
    monkeypatch.setattr(engine, "RECORDS_PER_EPOCH", 1)
    one, three = (host_reads(lambda: run(cma_data, tmp_path, case, decode, "cpu", steps)) for steps in (1, 3))
    assert one == three, f"reads in 1 step: {one}; in 3: {three}"


def test_the_counter_sees_a_read_per_step(cma_data, tmp_path, monkeypatch, host_reads) -> None:
    """The mock catches a step that reads its loss (as the toy step of test_engine does)."""
    monkeypatch.setattr(engine, "LOG_SECONDS", math.inf)
    monkeypatch.setattr(engine, "RECORDS_PER_EPOCH", 1)
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
    assert three.count("item") == one.count("item") + 2


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA (the mock above runs everywhere)")
@pytest.mark.parametrize("case,decode", RUNS)
def test_cuda_steps_do_not_synchronise(cma_data, tmp_path, monkeypatch, case, decode) -> None:
    monkeypatch.setattr(engine, "LOG_SECONDS", math.inf)
    monkeypatch.setattr(engine, "RECORDS_PER_EPOCH", 1)
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
