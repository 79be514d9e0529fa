"""``twostream extract``: flow + pack for one chunk of a manifest."""

from __future__ import annotations

import argparse

import cv2
import torch

from twostream.data.extract import chunk_rows, extract_chunk
from twostream.data.ingest import read_manifest
from twostream.files import write_csv
from twostream.flow import get_backend
from twostream.workflow import command_version


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--manifest", required=True)
    p.add_argument("--chunk", type=int, required=True, help="chunk number (0-based)")
    p.add_argument("--chunk-size", type=int, required=True)
    p.add_argument("--shards", required=True, help="folder for the per-video shards")
    p.add_argument("--size", type=int, nargs=2, required=True, metavar=("H", "W"), help="frame size")
    p.add_argument("--backend", default="auto")
    p.add_argument("--device", default="auto")
    p.add_argument("--variant", default="cpu", help="torch backend: the OpenCV class it follows (cpu, cuda)")
    p.add_argument("--batch-pairs", type=int, default=0,
                   help="frame pairs per flow batch, across videos (0: from GPU memory, or 8 on CPU)")
    p.add_argument("--bound", type=float, default=20.0)
    p.add_argument("--quality", type=int, default=90, help="JPEG quality of frames and flow")
    p.add_argument("--length", type=int, default=5, help="flow fields per stack (videos shorter are noted)")
    p.add_argument("--threads", type=int, default=1,
                   help="the job's CPU threads: torch's flow threads and as many decoding processes")
    p.add_argument("--out", required=True, help="chunk index CSV")


def run(args: argparse.Namespace) -> int:
    cv2.setNumThreads(args.threads)
    torch.set_num_threads(args.threads)
    manifest = read_manifest(args.manifest)
    rows = chunk_rows(manifest, args.chunk, args.chunk_size)
    backend = get_backend(args.backend, args.device, args.variant)
    index = extract_chunk(rows, backend, args.shards, size=tuple(args.size), bound=args.bound, quality=args.quality,
                          length=args.length, code=command_version("extract"), workers=args.threads,
                          pairs_per_batch=args.batch_pairs)
    write_csv(index, args.out)
    return 0
