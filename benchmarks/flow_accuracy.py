"""Flow accuracy suite: end-point error against ground truth, per family of pairs, for OpenCV CPU and both
torch variants, at the papers' 256x340.

    python benchmarks/flow_accuracy.py [--size H W] [--backends opencv-cpu,torch-cpu,torch-cuda]
                                       [--threads N] [--out benchmarks/out/flow_accuracy.json] [--smoke]

Families (each pair's ground truth known exactly; frames greyscale uint8, as extract computes flow):

* ``flyingchairs``: every FlyingChairs pair there is here, ``../shared/data/flow_gt/flyingchairs`` (0-4)
  and ``benchmarks/data/flyingchairs`` (5-8, which no test uses), area-resized, ground truth rescaled;
* ``large``: a real frame (one per shared clip) moved by 8-15 px, exactly: two windows of one
  larger area-resized frame, offset by whole pixels;
* ``fourier``, ``bicubic``, ``area``: sub-pixel shifts of the same real frames made three ways: a
  Fourier shift of the mirrored frame; ``cv2.warpAffine`` bicubic with a reflected border; a 4x
  larger frame moved by whole pixels, then area-downscaled (shifts in quarter pixels).

EPE over the whole frame for FlyingChairs; for the translations over the frame less a border (24 px,
plus the shift for ``large``, where new content enters). Per family: mean EPE of each backend, of zero
flow, and each backend's ratio to OpenCV CPU. The suite's mean is the mean of the family means (each
family weighs the same). The rule the default follows (docs/flow.md): the torch variant with the lower
suite mean among those within 5 % of OpenCV CPU on every family. Prints the table and the choice; the
JSON has every pair. ``--smoke``: one pair per family at 48x64 (the test suite runs it).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import torch

from twostream.files import write_text
from twostream.flow import get_backend
from twostream.flow.flo import read_flo
from twostream.flow.metrics import epe
from twostream.flow.tvl1 import TorchTVL1

REPO = Path(__file__).resolve().parents[1]
CHAIRS = [REPO.parent / "shared" / "data" / "flow_gt" / "flyingchairs", REPO / "benchmarks" / "data" / "flyingchairs"]
CLIPS = REPO.parent / "shared" / "data" / "clips"
SIZE = (256, 340)
FRAME = 8  # the frame of each clip that is moved (past any fade-in)
BORDER = 24  # px left out of the translations' EPE at 256x340 (scaled with the size)
SUBPIXEL = [(0.37, -0.81), (1.6, 0.45), (-2.25, 1.3)]  # (dx, dy) px: fourier, bicubic
QUARTER = [(0.25, -0.75), (1.5, 0.5), (-2.25, 1.25)]  # area: whole pixels at 4x
LARGE = [(8, -6), (-12, 5), (15, 10)]  # at 256x340
AREA_FACTOR = 4
FAMILIES = ("flyingchairs", "large", "fourier", "bicubic", "area")
BACKENDS = ("opencv-cpu", "torch-cpu", "torch-cuda")
TOLERANCE = 0.05  # a torch variant may be this much worse than OpenCV CPU on any family

Pairs = dict[str, np.ndarray]  # prev, nxt (N, H, W) uint8; gt (N, H, W, 2) float32; border (N,) int; names


def chairs_pairs(size: tuple[int, int], limit: int | None) -> Pairs:
    """Every FlyingChairs pair under ``CHAIRS``: frames area-resized, ground truth resampled and rescaled."""
    h, w = size
    stems = sorted({p.with_name(p.name.removesuffix("-gt.flo")) for d in CHAIRS if d.is_dir() for p in d.glob("*-gt.flo")},
                   key=lambda p: p.name)[:limit]
    prev, nxt, gt = [], [], []
    for stem in stems:
        frames = [cv2.imread(f"{stem}-img{k}.png", cv2.IMREAD_GRAYSCALE) for k in (0, 1)]
        flow = read_flo(f"{stem}-gt.flo")
        scale = np.array([w / flow.shape[1], h / flow.shape[0]], np.float32)
        prev.append(cv2.resize(frames[0], (w, h), interpolation=cv2.INTER_AREA))
        nxt.append(cv2.resize(frames[1], (w, h), interpolation=cv2.INTER_AREA))
        gt.append(cv2.resize(flow, (w, h), interpolation=cv2.INTER_LINEAR) * scale)
    return _pairs(prev, nxt, gt, [0] * len(stems), [s.name for s in stems])


def real_frames(clips: Path, limit: int | None) -> list[tuple[str, np.ndarray]]:
    """(name, greyscale frame ``FRAME`` at the clip's own size) of each clip under ``clips``, sorted by path."""
    videos = sorted(p for p in clips.rglob("*") if p.suffix in (".avi", ".mp4")) if clips.is_dir() else []
    out = []
    for video in videos[:limit]:
        cap = cv2.VideoCapture(str(video))
        cap.set(cv2.CAP_PROP_POS_FRAMES, FRAME)
        ok, frame = cap.read()
        cap.release()
        if ok:
            out.append((video.name, cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)))
    return out


def fourier_shift(img: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """``img`` moved by (dx, dy) px exactly (band-limited: a Fourier shift of the mirrored, so periodic, frame)."""
    h, w = img.shape
    big = np.block([[img, img[:, ::-1]], [img[::-1], img[::-1, ::-1]]]).astype(np.float64)
    ky, kx = np.fft.fftfreq(2 * h)[:, None], np.fft.fftfreq(2 * w)[None]
    moved = np.fft.ifft2(np.fft.fft2(big) * np.exp(-2j * np.pi * (kx * dx + ky * dy))).real[:h, :w]
    return np.clip(np.round(moved), 0, 255).astype(np.uint8)


def bicubic_shift(img: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """``img`` moved by (dx, dy) px with ``cv2.warpAffine``, bicubic, reflected border."""
    h, w = img.shape
    m = np.float32([[1, 0, dx], [0, 1, dy]])
    return cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)


def translations(frames: list[tuple[str, np.ndarray]], size: tuple[int, int], family: str) -> Pairs:
    """The clips' frames at ``size``, each moved by the next shift of the family's list."""
    h, w = size
    scale = h / SIZE[0]
    prev, nxt, gt, border, names = [], [], [], [], []
    for k, (name, frame) in enumerate(frames):
        if family == "large":
            dx, dy = (round(d * scale) for d in LARGE[k % len(LARGE)])
            m = max(abs(dx), abs(dy))
            base = cv2.resize(frame, (w + 2 * m, h + 2 * m), interpolation=cv2.INTER_AREA)
            a, b = base[m:m + h, m:m + w], base[m - dy:m - dy + h, m - dx:m - dx + w]
            edge = m
        elif family == "area":
            f, (dx, dy) = AREA_FACTOR, QUARTER[k % len(QUARTER)]
            m = 4  # px of margin at the final size, so both windows lie inside the large frame
            big = cv2.resize(frame, ((w + 2 * m) * f, (h + 2 * m) * f), interpolation=cv2.INTER_CUBIC)
            big = big.astype(np.float32)
            kx, ky = round(dx * f), round(dy * f)

            def down(y0: int, x0: int) -> np.ndarray:
                window = big[y0:y0 + h * f, x0:x0 + w * f]
                return np.clip(np.round(cv2.resize(window, (w, h), interpolation=cv2.INTER_AREA)), 0, 255).astype(np.uint8)

            a, b = down(m * f, m * f), down(m * f - ky, m * f - kx)
            edge = 0
        else:
            dx, dy = SUBPIXEL[k % len(SUBPIXEL)]
            a = cv2.resize(frame, (w, h), interpolation=cv2.INTER_AREA)
            b = (fourier_shift if family == "fourier" else bicubic_shift)(a, dx, dy)
            edge = 0
        prev.append(a)
        nxt.append(b)
        gt.append(np.broadcast_to(np.float32([dx, dy]), (h, w, 2)))
        border.append(math.ceil(BORDER * scale) + edge)
        names.append(f"{name} ({dx:+g}, {dy:+g})")
    return _pairs(prev, nxt, gt, border, names)


def _pairs(prev: list, nxt: list, gt: list, border: list, names: list) -> Pairs:
    return {"prev": np.stack(prev), "nxt": np.stack(nxt), "gt": np.stack(gt).astype(np.float32),
            "border": np.array(border), "names": names}


def suite(size: tuple[int, int], clips: Path, per_family: int | None) -> dict[str, Pairs]:
    """Every family's pairs (at most ``per_family`` each); a family without its data is left out."""
    frames = real_frames(clips, per_family)
    families = {"flyingchairs": chairs_pairs(size, per_family)} if any(d.is_dir() for d in CHAIRS) else {}
    if frames:
        families.update({f: translations(frames, size, f) for f in FAMILIES[1:]})
    return {name: pairs for name, pairs in families.items() if len(pairs["names"])}


def errors(flow: np.ndarray, pairs: Pairs) -> list[float]:
    """EPE of each pair's flow (N, H, W, 2) against the ground truth, over the frame less its border."""
    out = []
    for f, g, b in zip(flow, pairs["gt"], pairs["border"]):
        inner = (slice(b, f.shape[0] - b), slice(b, f.shape[1] - b)) if b else (slice(None), slice(None))
        out.append(epe(f[inner], g[inner]))
    return out


def make_backend(name: str) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    if name == "zero":
        return lambda prev, nxt: np.zeros(prev.shape + (2,), np.float32)
    if name.startswith("torch-"):
        return TorchTVL1("cpu", variant=name.removeprefix("torch-")).compute
    return get_backend(name, "cpu").compute


def choose(table: dict[str, dict[str, float]], variants: list[str]) -> dict:
    """The default by the suite's rule: within TOLERANCE of opencv-cpu on every family, then the lower suite mean."""
    verdict = {}
    for v in variants:
        worst = max(table[f][v] / table[f]["opencv-cpu"] - 1 for f in table)
        verdict[v] = {"suite_mean": float(np.mean([table[f][v] for f in table])), "worst_family_excess": worst,
                      "within_tolerance": worst <= TOLERANCE}
    eligible = [v for v in variants if verdict[v]["within_tolerance"]]
    best = min(eligible, key=lambda v: verdict[v]["suite_mean"]) if eligible else None
    return {"tolerance": TOLERANCE, "variants": verdict, "choice": best}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, nargs=2, default=list(SIZE), metavar=("H", "W"))
    parser.add_argument("--backends", default=",".join(BACKENDS), help="comma-separated: opencv-cpu, torch-cpu, torch-cuda")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--clips", type=Path, default=CLIPS, help="folder of video clips (their frames are moved)")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "out" / "flow_accuracy.json")
    parser.add_argument("--smoke", action="store_true", help="one pair per family at 48x64: a quick check")
    args = parser.parse_args()
    size = (48, 64) if args.smoke else tuple(args.size)
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    backends = args.backends.split(",")
    if "opencv-cpu" not in backends:
        sys.exit("benchmarks/flow_accuracy.py: error: the suite measures against opencv-cpu; include it in --backends")
    if not hasattr(cv2, "optflow"):
        sys.exit(f"benchmarks/flow_accuracy.py: error: OpenCV {cv2.__version__} has no cv2.optflow (opencv-contrib)")
    families = suite(size, args.clips, 1 if args.smoke else None)
    if not families:
        sys.exit(f"benchmarks/flow_accuracy.py: error: no ground truth: neither {CHAIRS[0]} nor clips under {args.clips}")
    report = {"size": list(size), "threads": args.threads, "load_average_before": os.getloadavg(),
              "cpu": platform.processor() or platform.machine(), "torch": torch.__version__, "opencv": cv2.__version__,
              "families": {}}
    table: dict[str, dict[str, float]] = {}
    for family, pairs in families.items():
        per_pair, seconds = {}, {}
        for name in [*backends, "zero"]:
            compute = make_backend(name)
            start = time.perf_counter()
            per_pair[name] = errors(compute(pairs["prev"], pairs["nxt"]), pairs)
            seconds[name] = time.perf_counter() - start
        table[family] = {name: float(np.mean(v)) for name, v in per_pair.items()}
        report["families"][family] = {"pairs": pairs["names"], "epe": per_pair, "mean": table[family],
                                      "seconds": seconds}
    variants = [b for b in backends if b.startswith("torch-")]
    report["table"] = table
    report["verdict"] = choose(table, variants) if variants else None
    report["load_average_after"] = os.getloadavg()
    print_table(report, [*backends, "zero"])
    write_text(json.dumps(report, indent=2) + "\n", args.out)
    print(f"load average before/after: {report['load_average_before']} / {report['load_average_after']}")
    print(f"-> {args.out}")


def print_table(report: dict, columns: list[str]) -> None:
    table = report["table"]
    print(f"mean EPE (px) per family at {report['size'][0]}x{report['size'][1]}; (x): ratio to opencv-cpu")
    print(f"{'family':14s} {'pairs':>5s} " + " ".join(f"{c:>18s}" for c in columns))
    for family, row in table.items():
        n = len(report["families"][family]["pairs"])
        cells = [f"{row[c]:.4f}" + (f" ({row[c] / row['opencv-cpu']:.3f})" if c.startswith("torch-") else "")
                 for c in columns]
        print(f"{family:14s} {n:5d} " + " ".join(f"{c:>18s}" for c in cells))
    means = {c: np.mean([row[c] for row in table.values()]) for c in columns}
    print(f"{'suite mean':14s} {'':5s} " + " ".join(f"{means[c]:18.4f}" for c in columns))
    verdict = report["verdict"]
    if verdict:
        for v, r in verdict["variants"].items():
            print(f"{v}: suite mean {r['suite_mean']:.4f}, worst family {100 * r['worst_family_excess']:+.1f} % vs "
                  f"opencv-cpu, within {100 * verdict['tolerance']:.0f} %: {r['within_tolerance']}")
        print(f"default by the suite's rule: {verdict['choice'] or 'none qualifies'}")


if __name__ == "__main__":
    main()
