"""``twostream flow``: write the raw TV-L1 flow of image pairs as Middlebury .flo files.

One pair (``IMG0 IMG1 OUT``), or many (``--pairs LIST``: a text file of ``img0 img1 out.flo``
lines, computed in batches of same-size pairs in one process; a bad line is reported with
its line number and the rest go on).
"""

from __future__ import annotations

import argparse
import os
import sys

import cv2
import numpy as np

from tqdm import tqdm

from twostream.flow import BACKENDS, FlowBackend, get_backend
from twostream.flow.flo import write_flo
from twostream.specs import schema_default


class InputError(Exception):
    """An input image that cannot be used; the message names the file and the reason."""


EXAMPLES = """examples:
  twostream flow frame0.png frame1.png flow.flo                         # one pair
  twostream flow --pairs pairs.txt --backend torch --device cpu         # lines 'img0 img1 out.flo'"""

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("img0", nargs="?", help="first image (any format OpenCV reads)")
    parser.add_argument("img1", nargs="?", help="second image, same size")
    parser.add_argument("out", nargs="?", help=".flo file to write (raw flow in pixels, unclipped)")
    parser.add_argument("--pairs", help="text file of 'img0 img1 out.flo' lines (instead of one pair)")
    parser.add_argument("--batch", type=int, default=8, help="pairs per flow batch with --pairs")
    parser.add_argument("--variant", default=schema_default("flow.variant"), choices=("cpu", "cuda"),
                        help="torch backend: the OpenCV class it follows (default %(default)s, as flow.variant)")
    parser.add_argument("--backend", default="auto", choices=BACKENDS, help="flow backend (default auto)")
    parser.add_argument("--device", default=schema_default("flow.device"), help="auto, cpu, cuda or cuda:N (default %(default)s)")


def read_grey(path: str) -> np.ndarray:
    """An image file as uint8 greyscale (H, W); InputError naming the file otherwise."""
    if not os.path.isfile(path):
        raise InputError(f"{path}: file not found")
    data = np.fromfile(path, np.uint8)
    if data.size == 0:
        raise InputError(f"{path}: empty file (0 bytes)")
    img = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE)
    if img is None:
        raise InputError(f"{path}: cannot decode (not an image, or a format OpenCV cannot read)")
    return img


def _size(img: np.ndarray) -> str:
    return f"{img.shape[1]}x{img.shape[0]}"


def read_pair(img0: str, img1: str) -> tuple[np.ndarray, np.ndarray]:
    prev, nxt = read_grey(img0), read_grey(img1)
    if prev.shape != nxt.shape:
        raise InputError(f"{img1}: size {_size(nxt)} differs from {img0} ({_size(prev)})")
    return prev, nxt


def read_list(path: str) -> list[tuple[int, list[str]]]:
    """(line number, [img0, img1, out]) of each non-blank, non-comment line; InputError for the file."""
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except OSError as e:
        raise InputError(f"{path}: cannot read ({e.strerror})") from None
    return [(n, line.split()) for n, line in enumerate(lines, 1) if line.strip() and not line.startswith("#")]


def _error(message: str) -> None:
    print(f"twostream flow: error: {message}", file=sys.stderr)


def _write(out: str, flow: np.ndarray) -> bool:
    try:
        write_flo(out, flow)
    except OSError as e:
        _error(f"{out}: cannot write ({e.strerror})")
        return False
    return True


def run_list(args: argparse.Namespace, backend: FlowBackend) -> int:
    """Every pair of the list, in batches of same-size pairs; 1 if any line failed, else 0."""
    failed = 0
    groups: dict[tuple[int, int], list[tuple[str, np.ndarray, np.ndarray]]] = {}

    def flush(size: tuple[int, int]) -> None:
        nonlocal failed
        batch = groups.pop(size)
        flows = backend.compute(np.stack([p for _, p, _ in batch]), np.stack([n for _, _, n in batch]))
        failed += sum(not _write(out, flow) for (out, _, _), flow in zip(batch, flows))

    lines = read_list(args.pairs)
    for number, fields in tqdm(lines, desc="flow", unit="pair", file=sys.stderr):
        try:
            if len(fields) != 3:
                raise InputError(f"expected 'img0 img1 out.flo', got {len(fields)} field(s)")
            prev, nxt = read_pair(fields[0], fields[1])
        except InputError as e:
            _error(f"{args.pairs}:{number}: {e}")
            failed += 1
            continue
        groups.setdefault(prev.shape, []).append((fields[2], prev, nxt))
        if len(groups[prev.shape]) >= args.batch:
            flush(prev.shape)
    for size in list(groups):
        flush(size)
    print(f"{backend.name}: {len(lines) - failed} of {len(lines)} pairs -> .flo", file=sys.stderr)
    return 1 if failed else 0


def run(args: argparse.Namespace) -> int:
    try:
        if (args.pairs is None) == (args.img0 is None):
            raise InputError("give either IMG0 IMG1 OUT or --pairs LIST")
        if args.pairs is None and args.out is None:
            raise InputError("give IMG0 IMG1 OUT (the .flo file to write)")
        backend = get_backend(args.backend, args.device, args.variant)
        if args.pairs is not None:
            return run_list(args, backend)
        prev, nxt = read_pair(args.img0, args.img1)
    except (InputError, ValueError, RuntimeError) as e:
        _error(str(e))
        return 2
    flow = backend.compute(prev[None], nxt[None])[0]
    if not _write(args.out, flow):
        return 2
    print(f"{backend.name}: {_size(prev)} flow -> {args.out}", file=sys.stderr)
    return 0
