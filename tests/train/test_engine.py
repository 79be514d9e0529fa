"""The training loop: schedule, determinism, resuming after a kill or SIGTERM."""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from specs import schedule

from twostream.train.engine import BatchOrder, Trainer



class Toy(torch.utils.data.Dataset):
    """Noisy copies of 4 class prototypes; the noise depends on (seed, epoch, index) like TSNDataset."""

    def __init__(self, n: int = 40):
        self.n, self.epoch = n, 0
        self.protos = torch.randn(4, 8, generator=torch.Generator().manual_seed(0))

    def __len__(self) -> int:
        return self.n

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __getitem__(self, i: int) -> dict:
        rng = np.random.default_rng([0, self.epoch, i])
        x = self.protos[i % 4] + torch.from_numpy(rng.normal(0, 0.5, 8).astype(np.float32))
        return {"x": x, "label": i % 4}


def model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 4))


def step(net, batch):
    out = net(batch["x"])
    return F.cross_entropy(out, batch["label"]), {"acc": (out.argmax(1) == batch["label"]).float().mean().item()}


def trainer(tmp_path, **kw) -> tuple[nn.Module, Trainer]:
    net = model()
    sched = schedule(steps=kw.pop("steps", 25), lr=0.1, batch_size=8, milestones=[15], **kw)
    return net, Trainer(net, list(net.parameters()), Toy(), sched, seed=3, resume=tmp_path / "m.resume",
                        run_id="toy", device=torch.device("cpu"))


def test_learns_and_follows_the_schedule(tmp_path) -> None:
    net, t = trainer(tmp_path)
    history = t.fit(step)
    assert [h["step"] for h in history] == list(range(1, 26))  # 5 steps per epoch: a row per step
    assert [h["lr"] for h in history] == pytest.approx([0.1] * 15 + [0.01] * 10)
    assert history[-1]["loss"] < history[0]["loss"] and history[-1]["acc"] > 0.7


def test_history_rows_within_epochs(tmp_path) -> None:
    """About RECORDS_PER_EPOCH rows per epoch, one at every epoch end, none across one; each averages its steps."""
    net = model()
    losses = []
    sched = schedule(steps=27, lr=0.1, batch_size=2, milestones=[15])  # 20 steps per epoch: a row every 2 steps
    t = Trainer(net, list(net.parameters()), Toy(), sched, seed=3, resume=tmp_path / "m.resume", run_id="toy",
                device=torch.device("cpu"))
    history = t.fit(lambda n, b: (lambda out: losses.append(out[0].item()) or out)(step(n, b)))
    assert [h["step"] for h in history] == [*range(2, 21, 2), 22, 24, 26, 27]
    assert [h["steps"] for h in history] == [2] * 13 + [1]
    assert history[10]["epoch"] == pytest.approx(1.1) and history[-1]["epoch"] == pytest.approx(1.35)
    assert [h["loss"] for h in history[:2]] == pytest.approx([np.mean(losses[:2]), np.mean(losses[2:4])])
    assert [h["lr"] for h in history[6:9]] == pytest.approx([0.1, 0.01, 0.01])  # steps 13-14, 15-16, 17-18


def test_batch_order() -> None:
    a = list(BatchOrder(20, 4, seed=1, epoch=0))
    assert sorted(i for b in a for i in b) == list(range(20))
    assert list(BatchOrder(20, 4, seed=1, epoch=0, start=2)) == a[2:]
    assert a != list(BatchOrder(20, 4, seed=1, epoch=1))
    halves = [list(BatchOrder(20, 4, seed=1, epoch=0, rank=r, world=2)) for r in (0, 1)]
    assert [x + y for x, y in zip(*halves)] == a
    with pytest.raises(ValueError):
        BatchOrder(20, 5, seed=1, epoch=0, world=2)


def _weights(net) -> list[torch.Tensor]:
    return [p.detach().clone() for p in net.parameters()]


def test_resume_after_a_crash_is_exact(tmp_path) -> None:
    ref, t = trainer(tmp_path / "a")
    ref_history = t.fit(step)

    class Crash(Exception):
        pass

    def crashing(net, batch, calls=[0]):
        calls[0] += 1
        if calls[0] == 13:  # mid-epoch, after the checkpoint of step 12
            raise Crash
        return step(net, batch)

    _, t = trainer(tmp_path / "b", checkpoint_every=4)
    with pytest.raises(Crash):
        t.fit(crashing)
    assert (tmp_path / "b/m.resume").is_file()
    net, t = trainer(tmp_path / "b", checkpoint_every=4)
    history = t.fit(step)
    assert all(torch.equal(a, b) for a, b in zip(_weights(ref), _weights(net)))
    assert [h["loss"] for h in history] == pytest.approx([h["loss"] for h in ref_history])


def test_sigterm_saves_and_exits(tmp_path) -> None:
    ref, t = trainer(tmp_path / "a")
    t.fit(step)

    def terminated(net, batch, calls=[0]):
        calls[0] += 1
        if calls[0] == 7:
            os.kill(os.getpid(), signal.SIGTERM)
        return step(net, batch)

    _, t = trainer(tmp_path / "b")
    with pytest.raises(SystemExit) as exit_:
        t.fit(terminated)
    assert exit_.value.code == 143
    assert torch.load(tmp_path / "b/m.resume", weights_only=False)["state"]["step"] == 7
    net, t = trainer(tmp_path / "b")
    t.fit(step)
    assert all(torch.equal(a, b) for a, b in zip(_weights(ref), _weights(net)))


def test_resume_ignores_another_configuration(tmp_path) -> None:
    _, t = trainer(tmp_path, steps=10)
    t.fit(step)
    t._save()
    net, t = trainer(tmp_path, steps=12)  # a different schedule: start afresh
    t.fit(step)
    assert t.state["step"] == 12 and len(t.state["history"]) == 12


def test_plateau_divides_the_learning_rate(tmp_path) -> None:
    net = model()
    sched = schedule(steps=30, lr=1e-9, batch_size=8, plateau_patience=2)  # lr too small to improve
    t = Trainer(net, list(net.parameters()), Toy(), sched, seed=0, resume=tmp_path / "r", run_id="p",
                device=torch.device("cpu"))
    history = t.fit(step)
    assert history[-1]["lr"] < 1e-9


def test_sgd_is_foreach_on_the_cpu_with_the_loops_numbers_and_fused_on_cuda() -> None:
    """``engine.sgd``: one kernel per step on CUDA (fused), foreach on the CPU, whose weights equal the
    per-parameter loop's bit for bit (CPU runs keep their numbers)."""
    from twostream.train.engine import sgd

    sched = schedule(steps=1, lr=0.1, batch_size=8, milestones=[])
    weights = []
    for make in (lambda ps: sgd(ps, sched, torch.device("cpu")),
                 lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=sched.momentum, weight_decay=sched.weight_decay,
                                            foreach=False)):
        net = model()
        opt = make(list(net.parameters()))
        x = torch.randn(8, 8, generator=torch.Generator().manual_seed(1))
        for _ in range(4):
            opt.zero_grad()
            net(x).pow(2).mean().backward()
            opt.step()
        weights.append([p.detach().clone() for p in net.parameters()])
    assert all(torch.equal(a, b) for a, b in zip(*weights))
    assert sgd(list(model().parameters()), sched, torch.device("cpu")).defaults["foreach"]
    assert sgd(list(model().parameters()), sched, torch.device("cuda")).defaults["fused"]
