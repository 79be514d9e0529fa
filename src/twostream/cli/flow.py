"""``twostream flow``: write the raw TV-L1 flow of one image pair as a Middlebury .flo file."""

from __future__ import annotations

import argparse
import os
import sys

import cv2
import numpy as np

from twostream.flow import BACKENDS, get_backend
from twostream.flow.flo import write_flo


class InputError(Exception):
    """An input image that cannot be used; the message names the file and the reason."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("img0", help="first image (any format OpenCV reads)")
    parser.add_argument("img1", help="second image, same size")
    parser.add_argument("out", help=".flo file to write (raw flow in pixels, unclipped)")
    parser.add_argument("--backend", default="auto", choices=BACKENDS, help="flow backend (default auto)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default auto)")


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


def run(args: argparse.Namespace) -> int:
    try:
        prev, nxt = read_grey(args.img0), read_grey(args.img1)
        if prev.shape != nxt.shape:
            raise InputError(f"{args.img1}: size {_size(nxt)} differs from {args.img0} ({_size(prev)})")
        backend = get_backend(args.backend, args.device)
    except (InputError, ValueError, RuntimeError) as e:
        print(f"twostream flow: error: {e}", file=sys.stderr)
        return 2
    flow = backend.compute(prev[None], nxt[None])[0]
    try:
        write_flo(args.out, flow)
    except OSError as e:
        print(f"twostream flow: error: {args.out}: cannot write ({e.strerror})", file=sys.stderr)
        return 2
    print(f"{backend.name}: {_size(prev)} flow -> {args.out}", file=sys.stderr)
    return 0
