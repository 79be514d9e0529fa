"""``twostream extract``: flow + pack for one chunk of a manifest; its one line on stdout (the rule's console):
the chunk's videos, how many were extracted now (the others kept from an earlier run), frame pairs per second."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import cv2
import torch

from twostream.data.extract import chunk_rows, extract_chunk
from twostream.data.ingest import read_manifest
from twostream.files import write_csv
from twostream.flow import get_backend
from twostream.specs import ExtractSpec, add_spec
from twostream.workflow import command_version


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_spec(p, ExtractSpec)
    p.add_argument("--manifest", required=True)
    p.add_argument("--chunk", type=int, required=True, help="chunk number (0-based)")
    p.add_argument("--shards", required=True, help="folder for the per-video shards")
    p.add_argument("--threads", type=int, required=True,
                   help="the job's CPU threads: torch's flow threads, as many decoding processes and JPEG threads")
    p.add_argument("--out", required=True, help="chunk index CSV")


def run(args: argparse.Namespace) -> int:
    spec: ExtractSpec = args.spec
    cv2.setNumThreads(args.threads)
    torch.set_num_threads(args.threads)
    manifest = read_manifest(args.manifest)
    rows = chunk_rows(manifest, args.chunk, spec.chunk_size)
    backend = get_backend(spec.backend, spec.device, spec.variant)
    start = time.time()
    index = extract_chunk(rows, backend, args.shards, size=spec.size, bound=spec.bound, quality=spec.jpeg_quality,
                          length=spec.length, code=command_version("extract"), workers=args.threads, encoders=args.threads,
                          pairs_per_batch=spec.batch_pairs)
    write_csv(index, args.out)
    print(summary(index, args.out, args.chunk, start), flush=True)
    return 0


def summary(index, out: str, chunk: int, start: float) -> str:
    """The chunk's console line: videos, those extracted now (shards written since ``start``), their pairs per second."""
    seconds = time.time() - start
    ok = index[index["status"] == "ok"]
    new = ok[[os.path.exists(s) and os.path.getmtime(s) >= start for s in ok["shard"]]]
    pairs = int((new["frames"] - 1).clip(lower=0).sum())
    parts = Path(out).parts
    where = f"{parts[1]} chunk {chunk}" if len(parts) > 2 and parts[0] == "results" else f"chunk {chunk}"
    failed = len(index) - len(ok)
    return (f"extract {where}: {len(index)} videos ({len(new)} extracted, {len(ok) - len(new)} kept"
            f"{f', {failed} failed' if failed else ''}), {pairs:,} frame pairs in {seconds:.0f} s: "
            f"{pairs / max(seconds, 1e-9):.1f} pairs/s")
