"""Mixed precision in the Trainer: bf16/fp16 autocast on CPU, close to fp32, and exactly resumable."""

from __future__ import annotations

import os

import pytest
import torch
from specs import schedule

from twostream import precision
from twostream.train import engine
from twostream.train.engine import BatchOrder, RunOrder, Trainer

from .test_engine import Toy, model, step

# Over 25 SGD steps of the toy model the epoch losses under bf16 and fp16 autocast stay within this of fp32.
BF16_LOSS_TOLERANCE = 0.005  # measured: 2e-4 (bf16), 1e-4 (fp16)


def trainer(path, name: str, **kw) -> tuple[torch.nn.Module, Trainer]:
    net = model()
    sched = schedule(steps=25, lr=0.1, batch_size=8, milestones=[15], precision=name, **kw)
    return net, Trainer(net, list(net.parameters()), Toy(), sched, seed=3, resume=path / "m.resume", run_id="toy",
                        device=torch.device("cpu"))


def weights(net) -> list[torch.Tensor]:
    return [p.detach().clone() for p in net.parameters()]


def test_auto_is_bf16_on_cuda_and_fp32_on_cpu() -> None:
    assert precision.resolve("auto", torch.device("cpu")) == "fp32"
    assert precision.resolve("auto", torch.device("cuda")) == "bf16"
    with pytest.raises(ValueError, match="precision must be one of"):
        precision.resolve("fp8", torch.device("cpu"))


@pytest.mark.parametrize("name", ["bf16", "fp16"])
def test_mixed_precision_trains_close_to_fp32(tmp_path, name) -> None:
    _, t = trainer(tmp_path / "fp32", "fp32")
    reference = [h["loss"] for h in t.fit(step)]
    net, t = trainer(tmp_path / name, name)
    seen = []
    net[0].register_forward_hook(lambda module, inputs, out: seen.append(out.dtype))
    history = t.fit(step)
    assert seen[0] == precision.DTYPES[name]  # the forward pass ran under autocast
    assert all(p.dtype == torch.float32 for p in net.parameters())  # weights stay fp32
    assert [h["loss"] for h in history] == pytest.approx(reference, abs=BF16_LOSS_TOLERANCE)
    assert history[-1]["acc"] > 0.7


@pytest.mark.parametrize("name", ["bf16", "fp16"])
def test_resume_under_mixed_precision_is_exact(tmp_path, name) -> None:
    ref, t = trainer(tmp_path / "a", name)
    ref_history = t.fit(step)

    def crashing(net, batch, calls=[0]):
        calls[0] += 1
        if calls[0] == 13:  # mid-epoch, after the checkpoint of step 12
            raise RuntimeError("killed")
        return step(net, batch)

    _, t = trainer(tmp_path / "b", name, checkpoint_every=4)
    with pytest.raises(RuntimeError, match="killed"):
        t.fit(crashing)
    saved = torch.load(tmp_path / "b/m.resume", weights_only=False)
    assert saved["state"]["step"] == 12
    if name == "fp16":  # the loss scale is part of the checkpoint
        assert saved["scaler"]["scale"] == t.scaler.get_scale()
    net, t = trainer(tmp_path / "b", name, checkpoint_every=4)
    history = t.fit(step)
    assert all(torch.equal(a, b) for a, b in zip(weights(ref), weights(net)))
    assert [h["loss"] for h in history] == [h["loss"] for h in ref_history]  # bit-identical epoch means


def test_a_run_is_one_stream_of_the_epochs_batch_orders() -> None:
    keys = list(RunOrder(20, 4, seed=1, start=3, steps=12))
    expected = [[(e, i) for i in b] for e in range(3) for b in BatchOrder(20, 4, seed=1, epoch=e)][3:12]
    assert keys == expected and len(RunOrder(20, 4, seed=1, start=3, steps=12)) == 9


class Where(Toy):
    """Toy items that say which process loaded them."""

    def __getitem__(self, i: int) -> dict:
        return {**super().__getitem__(i), "pid": os.getpid()}


def test_workers_start_once_per_run_and_see_each_epoch(tmp_path) -> None:
    _, t = trainer(tmp_path / "inline", "fp32")
    reference = t.fit(step)
    pids = set()
    net = model()
    sched = schedule(steps=25, lr=0.1, batch_size=8, milestones=[15], precision="fp32", workers=2)
    t = Trainer(net, list(net.parameters()), Where(), sched, seed=3, resume=tmp_path / "w.resume", run_id="toy",
                device=torch.device("cpu"))
    history = t.fit(lambda n, b: pids.update(b["pid"].tolist()) or step(n, b))
    assert len(pids) == 2 and os.getpid() not in pids  # two workers for all five epochs
    assert [h["loss"] for h in history] == [h["loss"] for h in reference]  # workers drew each epoch's augmentation


def test_compiled_training_matches_eager_without_dropout(tmp_path) -> None:
    """train.compile: the step runs the compiled network; without dropout (whose masks inductor draws
    with its own generator) it follows the eager run."""
    histories = []
    for compile_ in (False, True):
        net = model()
        net[2].p = 0.0
        sched = schedule(steps=10, lr=0.1, batch_size=8, compile=compile_)
        t = Trainer(net, list(net.parameters()), Toy(), sched, seed=3, resume=tmp_path / f"{compile_}.resume",
                    run_id="toy", device=torch.device("cpu"))
        assert isinstance(t.net, torch._dynamo.eval_frame.OptimizedModule) == compile_
        histories.append([h["loss"] for h in t.fit(step)])
    assert histories[1] == pytest.approx(histories[0], abs=1e-4)


def test_progress_refreshes_do_not_change_the_run(tmp_path, monkeypatch) -> None:
    """The progress bar's running loss (a host read at most every LOG_SECONDS) leaves the results alone."""
    ref, t = trainer(tmp_path / "a", "fp32")
    reference = t.fit(step)
    monkeypatch.setattr(engine, "LOG_SECONDS", 0.0)  # refresh after every step
    net, t = trainer(tmp_path / "b", "fp32")
    history = t.fit(step)
    assert [{**h, "seconds": 0} for h in history] == [{**h, "seconds": 0} for h in reference]
    assert all(torch.equal(a, b) for a, b in zip(weights(ref), weights(net)))
