"""Which GPU a single-process job takes when several GPU jobs run at once on one machine.

``snakemake --resources gpu=G`` lets G GPU jobs run together but does not say which GPU each
should use. A job asking for ``auto`` takes the first GPU whose lock file no other process holds
(``fcntl.flock``, released when the process ends, also when it is killed). Where the scheduler
already hands each job its own GPU (SLURM sets CUDA_VISIBLE_DEVICES), one GPU is visible and no
lock is taken.
"""

from __future__ import annotations

import fcntl
import os
import re
import tempfile
from pathlib import Path
from typing import IO

_held: list[IO] = []  # lock files kept open for the life of the process


def lock_dir() -> Path:
    root = os.environ.get("TWOSTREAM_GPU_LOCKS") or tempfile.gettempdir()
    return Path(root) / f"twostream-gpus-{os.getuid()}"


def claim(count: int) -> int:
    """Index of the first of ``count`` GPUs that no other process holds, now held by this one (0 if all are).

    A process holds at most one GPU: asking again returns the GPU it already holds.
    """
    if count <= 1:
        return 0
    if _held:
        return int(Path(_held[0].name).stem)
    folder = lock_dir()
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        f = open(folder / f"{index}.lock", "a")
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.close()
            continue
        _held.append(f)
        return index
    return 0


def auto_device() -> str:
    """``cuda:N`` for a free GPU when torch sees one, else ``cpu``."""
    import torch

    if not torch.cuda.is_available():
        return "cpu"
    return f"cuda:{claim(torch.cuda.device_count())}"


def device_name(name: str) -> str:
    """The device a single-process job uses for ``name``: ``auto`` and ``cuda`` take a free GPU (``auto``
    falls back to ``cpu`` without one); ``cpu`` and ``cuda:N`` are taken as given."""
    if name == "auto":
        return auto_device()
    if name == "cuda":
        device = auto_device()
        if device == "cpu":
            raise ValueError("device 'cuda' requested but torch sees no CUDA device")
        return device
    return name


_DEVICE = re.compile(r"auto|cpu|cuda(:\d+)?")


def check_device(device: str | None) -> str:
    """A device name (auto, cpu, cuda, cuda:N; None: auto), or ValueError."""
    device = device or "auto"
    if not _DEVICE.fullmatch(device):
        raise ValueError(f"unknown device {device!r}; use auto, cpu, cuda or cuda:N")
    return device


def resolve_device(device: str | None) -> str:
    """``cpu`` or ``cuda:N`` for a device name; ``auto`` (or None) and ``cuda`` take a free GPU (``device_name``).

    The one device resolver: flow backends, training (``train.distributed.local_device`` outside
    torchrun) and evaluation all ask it.
    """
    import torch

    device = device_name(check_device(device))
    if device == "cpu":
        return device
    index = int(device.partition(":")[2] or 0)
    if index >= torch.cuda.device_count():
        raise ValueError(
            f"device {device!r} requested but torch sees {torch.cuda.device_count()} CUDA device(s)"
        )
    return f"cuda:{index}"


def set_threads(threads: int) -> None:
    """torch CPU threads of a job (0: torch's default); under torchrun each of its processes on this node takes
    an equal share."""
    import torch

    if threads:
        torch.set_num_threads(max(1, threads // int(os.environ.get("LOCAL_WORLD_SIZE", 1))))
