"""Train a small BN network for a few steps; run alone or under torchrun (used by test_distributed.py)."""

import sys

import numpy as np
import torch
import torch.nn.functional as F

from twostream.models.streams import StreamNet
from twostream.train import distributed
from twostream.train.engine import Schedule, Trainer


class Data(torch.utils.data.Dataset):
    def __len__(self):
        return 32

    def set_epoch(self, epoch):
        self.epoch = epoch

    def __getitem__(self, i):
        rng = np.random.default_rng([0, self.epoch, i])
        return {"x": torch.from_numpy(rng.normal(size=(3, 16, 16)).astype(np.float32)) + i % 4, "label": i % 4}


def main(out: str) -> None:
    torch.set_num_threads(1)
    ctx = distributed.setup(torch.device("cpu"))
    torch.manual_seed(0)
    net = StreamNet(10, 3, num_classes=4, dropout=0.0)  # dropout masks are drawn per process
    sched = Schedule(steps=2, lr=0.01, batch_size=8, milestones=[], plateau_patience=0, momentum=0.9,
                     weight_decay=5e-4, clip_grad=0.0, workers=0, checkpoint_every=0, precision="fp32", compile=False,
                     prefetch=2)
    trainer = Trainer(net, list(net.parameters()), Data(), sched, seed=0, resume=out + ".resume", run_id="ddp",
                      device=torch.device("cpu"), ctx=ctx)
    history = trainer.fit(lambda model, b: (F.cross_entropy(model(b["x"]), b["label"]), {}))
    if ctx.main:
        torch.save({"state": net.state_dict(), "loss": history[-1]["loss"]}, out)


if __name__ == "__main__":
    main(sys.argv[1])
