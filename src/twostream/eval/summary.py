"""``results/summary.md``: every final table of a run in one file, with when and where it ran.

The README quotes this file, so its numbers are the run's own. The note on reproducibility says
which outputs are bit-identical across machines (generated videos, manifests, split lists;
tables computed from the same score files) and which are not (trained weights and so every
score: float reductions differ between CPUs, thread counts and torch builds).
"""

from __future__ import annotations

import datetime
import os
import platform
from pathlib import Path

import torch

from twostream.files import write_text

REPRODUCIBILITY = (
    "Bit-identical across machines: the generated videos (`data/`), manifests and split lists, and any "
    "table recomputed from the same score files. Same machine, same thread count: a re-run reproduces "
    "every score bit for bit (seeded sampling, augmentation, initialisation and batch order). Across "
    "CPUs, thread counts or torch builds: flow, trained weights and therefore every accuracy can differ "
    "(floating-point reductions run in another order); `benchmarks/seeds.py` measures how much accuracies "
    "move with the seed, the scale to read differences against."
)


def machine() -> str:
    """One line: host, CPU model and count, torch version, GPU (or none)."""
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines() if line.startswith("model name")]
        cpu = names[0] if names else cpu
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return f"{platform.node()}: {cpu}, {os.cpu_count()} CPUs, torch {torch.__version__}, {gpu}"


def demote(markdown: str) -> str:
    """A table file's Markdown with its headings one level down (its title becomes a section)."""
    return "\n".join("#" + line if line.startswith("#") else line for line in markdown.splitlines())


def summary(tables: list[str | os.PathLike], now: datetime.datetime | None = None, where: str | None = None) -> str:
    now = now or datetime.datetime.now(datetime.timezone.utc)
    head = ["# Results summary", "", f"Run finished {now:%Y-%m-%d %H:%M} UTC on {where or machine()}.",
            "Accuracies are top-1 / top-5 % with 95 % Wilson intervals over the test videos: `value [low, high]`.",
            "", REPRODUCIBILITY, ""]
    body = [demote(Path(t).read_text()) + "\n" for t in tables]
    return "\n".join(head + body)


def write_summary(tables: list[str | os.PathLike], out: str | os.PathLike) -> None:
    write_text(summary(tables), out)
