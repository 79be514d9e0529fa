"""``twostream extract``: flow + pack for one chunk of a manifest."""

from __future__ import annotations

import argparse

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
    index = extract_chunk(rows, backend, args.shards, size=spec.size, bound=spec.bound, quality=spec.jpeg_quality,
                          length=spec.length, code=command_version("extract"), workers=args.threads, encoders=args.threads,
                          pairs_per_batch=spec.batch_pairs)
    write_csv(index, args.out)
    return 0
