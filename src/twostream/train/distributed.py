"""Data-parallel training under torchrun: process group, synchronised BatchNorm, DDP wrapping.

A training command started by ``torchrun --nproc_per_node N -m twostream ...`` sees RANK,
WORLD_SIZE and LOCAL_RANK; each process then takes its slice of every global batch
(``BatchOrder``), BatchNorm statistics are computed over the global batch (as the CMA
paper does with synchronised BN), and DDP averages gradients. So N processes compute the
same loss and gradients as one process on the whole batch. On GPUs this uses NCCL and
torch's SyncBatchNorm; on CPUs (gloo), where torch's SyncBatchNorm is not supported,
``GlobalBatchNorm`` does the same with a differentiable all-reduce.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.distributed.nn.functional as dist_fn
import torch.nn as nn

from twostream.gpus import resolve_device


@dataclass(frozen=True)
class Context:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def setup(device: torch.device) -> Context:
    """Join the process group torchrun describes (no-op for a single process)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return Context()
    ctx = Context(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")))
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return ctx


def local_device(name: str, ctx: Context) -> torch.device:
    """This process's device: its own GPU (LOCAL_RANK) under torchrun, else ``name`` (``auto``, ``cuda``: a free
    GPU, ``twostream.gpus``)."""
    if ctx.world > 1 and torch.cuda.is_available() and name in ("auto", "cuda"):
        torch.cuda.set_device(ctx.local_rank)
        return torch.device("cuda", ctx.local_rank)
    return torch.device(resolve_device(name))


def process(name: str) -> tuple[Context, torch.device]:
    """This process's place in a torchrun job (a single process otherwise) and its device, resolved once
    (so a single-process job takes one GPU lock)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local = Context(local_rank=int(os.environ.get("LOCAL_RANK", "0")), world=world)
    device = local_device(name, local)
    return setup(device), device


class GlobalBatchNorm(nn.BatchNorm2d):
    """BatchNorm whose training statistics cover the batches of all processes (CPU-capable SyncBatchNorm)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(x)
        dims = [0, 2, 3]
        count = torch.tensor([x.numel() / x.shape[1]], dtype=x.dtype, device=x.device)
        stats = torch.cat([x.sum(dims), (x * x).sum(dims), count])
        stats = dist_fn.all_reduce(stats)
        c = x.shape[1]
        n = stats[-1]
        mean = stats[:c] / n
        var = stats[c:2 * c] / n - mean * mean
        with torch.no_grad():
            self.num_batches_tracked += 1
            m = self.momentum
            self.running_mean.mul_(1 - m).add_(m * mean.detach())
            self.running_var.mul_(1 - m).add_(m * var.detach() * n / (n - 1))
        shape = (1, c, 1, 1)
        y = (x - mean.view(shape)) / torch.sqrt(var.view(shape) + self.eps)
        return y * self.weight.view(shape) + self.bias.view(shape)


def sync_batchnorm(model: nn.Module, device: torch.device) -> nn.Module:
    """Replace BatchNorm2d layers by synchronised ones (torch's on GPU, GlobalBatchNorm on CPU)."""
    if device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(model)
    for name, child in model.named_children():
        if type(child) is nn.BatchNorm2d:
            new = GlobalBatchNorm(child.num_features, child.eps, child.momentum, child.affine,
                                  child.track_running_stats)
            # Share the parameters and buffers (as torch's convert_sync_batchnorm does), so
            # optimisers and frozen flags built on the original module still apply.
            new.weight, new.bias = child.weight, child.bias
            new.running_mean, new.running_var = child.running_mean, child.running_var
            new.num_batches_tracked = child.num_batches_tracked
            new.train(child.training)
            setattr(model, name, new)
        else:
            sync_batchnorm(child, device)
    return model


def wrap(model: nn.Module, ctx: Context, device: torch.device) -> nn.Module:
    """The module a training step calls: DDP around ``model`` under torchrun, ``model`` itself otherwise."""
    if ctx.world == 1:
        return model
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=ids, find_unused_parameters=True)


def sum_over_processes(t: torch.Tensor, ctx: Context) -> torch.Tensor:
    """``t`` summed over processes (``t`` itself for one process); for logs, read once per epoch."""
    if ctx.world == 1:
        return t
    t = t.clone()
    dist.all_reduce(t)
    return t


def barrier(ctx: Context) -> None:
    if ctx.world > 1:
        dist.barrier()
