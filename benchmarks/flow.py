"""Benchmark the flow backends on frames of the real test clips, at 256x340 (H x W).

    python benchmarks/flow.py [--backends torch,opencv-cpu] [--pairs 32] [--device auto] [--threads N]
                              [--variant cpu|cuda] [--out FILE] [--smoke]
    python benchmarks/flow.py --extract VIDEOS [--threads N]   # extract: serial against pipelined

Per backend: pairs/s, the first call's time (torch compiles its iteration then), peak
memory (the process's peak RSS on CPU; ``torch.cuda.max_memory_allocated`` on a GPU) and
the EPE against ``opencv-cpu`` on the same pairs. Each backend runs in a fresh process so
that peak RSS is its own. For torch it also reports the memory bandwidth its iteration
reaches, against a measured copy bandwidth and, on a GPU, the datasheet peak: the iteration
timed alone (torch), or on a CPU the C++ flow timed whole with its iterations counted
(``twostream.flow.native``; a lower bound). On a GPU, torch runs batch sizes 1, 2, 4, ..., 256.
Prints a summary, the torch/opencv-cpu speed ratio of this run (both measured in it, one after
the other, so under the same load), and writes everything as JSON to ``--out``. Without
opencv-contrib (no ``cv2.optflow``) the OpenCV reference is skipped, with a note. ``--smoke``:
two small pairs, torch eager, no iteration timing (what the test suite runs).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import torch

from twostream.data.extract import extract_chunk, extract_video, shard_path
from twostream.data.video import iter_frames
from twostream.files import write_text
from twostream.flow import get_backend, native, resolve_device
from twostream.flow.metrics import epe
from twostream.flow.opencv import opencv_cuda_unavailable
from twostream.flow.tvl1 import CPU_BATCH, TorchTVL1
from twostream.specs import schema_default

REPO = Path(__file__).resolve().parents[1]
CLIPS = REPO.parent / "shared" / "data" / "clips"
SIZE = (256, 340)
FRAMES_PER_CLIP = 16
GPU_BATCHES = [2**k for k in range(9)]  # 1 ... 256
# Datasheet memory bandwidth, bytes/s, by a substring of torch.cuda.get_device_name().
PEAK_BANDWIDTH = {
    "H200": 4.8e12,
    "H100 SXM": 3.35e12,
    "H100 80GB HBM3": 3.35e12,
    "H100 PCIe": 2.0e12,
    "H100 NVL": 3.9e12,
    "A100-SXM4-80GB": 2.039e12,
    "A100-PCIE-80GB": 1.935e12,
    "A100-SXM4-40GB": 1.555e12,
    "A100-PCIE-40GB": 1.555e12,
    "L40S": 0.864e12,
    "L4": 0.3e12,
    "A10G": 0.6e12,
    "T4": 0.32e12,
}
# Bytes the TV-L1 iteration must move per pixel: it reads u1, u2, p11, p12, p21, p22,
# I1wx, I1wy and rho_c and writes u1, u2, p11, p12, p21, p22 (float32; neighbours hit cache).
STEP_BYTES_PER_PIXEL = (9 + 6) * 4


def load_pairs(n_pairs: int, clips: Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Consecutive greyscale frame pairs: the first 16 frames of each clip in turn, until n_pairs.

    Without clips (a checkout without ../shared): pairs of a smooth random texture moved by a pixel.
    """
    videos = sorted(p for p in clips.rglob("*") if p.suffix in (".avi", ".mp4")) if clips.is_dir() else []
    if not videos:
        rng = np.random.default_rng(0)
        base = cv2.GaussianBlur(rng.uniform(0, 255, (SIZE[0] + 8, SIZE[1] + 8)).astype(np.float32), (0, 0), 2)
        frames = [np.clip(base[k:k + SIZE[0], k:k + SIZE[1]], 0, 255).astype(np.uint8) for k in range(n_pairs + 1)]
        return np.stack(frames[:-1]), np.stack(frames[1:]), [f"synthetic texture (no clips under {clips})"]
    prev, nxt, used = [], [], []
    for video in itertools.cycle(videos):
        frames = [
            cv2.cvtColor(f, cv2.COLOR_BGR2GRAY)
            for _, f in itertools.islice(iter_frames(video, SIZE), FRAMES_PER_CLIP)
        ]
        prev += frames[:-1]
        nxt += frames[1:]
        used.append(str(video.relative_to(clips)))
        if len(prev) >= n_pairs:
            return np.stack(prev[:n_pairs]), np.stack(nxt[:n_pairs]), used


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize(device)


def copy_bandwidth(device: str, nbytes: int = 1 << 28) -> float:
    """Measured bytes/s of a large tensor copy (reads + writes) on the device."""
    src = torch.empty(nbytes // 4, device=device)
    dst = torch.empty_like(src)
    dst.copy_(src)
    sync(device)
    start, reps = time.perf_counter(), 5
    for _ in range(reps):
        dst.copy_(src)
    sync(device)
    return 2 * nbytes * reps / (time.perf_counter() - start)


def step_bandwidth(backend: TorchTVL1, batch: int, reps: int = 20) -> dict:
    """Time the (compiled) iteration alone on a batch at 256x340; bytes/s it moves."""
    planes = [torch.randn((batch,) + SIZE, device=backend.device) for _ in range(9)]
    live = torch.ones(batch, dtype=torch.bool, device=backend.device)
    args = (*planes, live, backend.lambda_ * backend.theta, backend.theta, backend.tau / backend.theta)
    backend._step(*args)
    sync(str(backend.device))
    start = time.perf_counter()
    for _ in range(reps):
        backend._step(*args)
    sync(str(backend.device))
    seconds = (time.perf_counter() - start) / reps
    bytes_moved = STEP_BYTES_PER_PIXEL * batch * SIZE[0] * SIZE[1]
    return {
        "batch": batch,
        "step_ms": 1e3 * seconds,
        "bytes_per_step": bytes_moved,
        "bytes_per_s": bytes_moved / seconds,
    }


def run_backend(name: str, device: str, pairs: int, clips: Path, batch: int | None, flow_out: str,
                variant: str, eager: bool) -> dict:
    """Benchmark one backend in this process; the flow goes to ``flow_out`` (.npy)."""
    prev, nxt, _ = load_pairs(pairs, clips)
    backend = TorchTVL1(device, variant=variant, compile=False) if eager and name == "torch" else (
        get_backend(name, device, variant))
    on_gpu = isinstance(backend, TorchTVL1) and backend.device.type == "cuda"
    if batch is not None:
        backend.batch_size = batch
        reps = -(-batch // len(prev))  # enough copies of the pairs to fill one batch
        prev, nxt = np.concatenate([prev] * reps), np.concatenate([nxt] * reps)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    backend.compute(prev[:1], nxt[:1])  # torch compiles its iteration here
    first_call = time.perf_counter() - start
    if on_gpu:
        torch.cuda.reset_peak_memory_stats(backend.device)
    start = time.perf_counter()
    flow = backend.compute(prev, nxt)
    seconds = time.perf_counter() - start
    np.save(flow_out, flow[:pairs])
    result = {
        "backend": backend.name,
        "params": backend.params(),
        "pairs": len(prev),
        "seconds": seconds,
        "pairs_per_s": len(prev) / seconds,
        "first_call_s": first_call,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rss_before_mb": rss_before,
    }
    if isinstance(backend, TorchTVL1):
        default_batch = CPU_BATCH if backend.device.type == "cpu" else len(prev)
        result.update(
            device=str(backend.device),
            compiled=backend._step.compiled,
            fused=backend.fused,
            batch_size=backend.batch_size or default_batch,
        )
        if on_gpu:
            result["max_memory_allocated_mb"] = torch.cuda.max_memory_allocated(backend.device) / 2**20
    return result


def in_subprocess(args: argparse.Namespace, name: str, device: str, batch: int | None, flow_out: str) -> dict:
    """Run ``run_backend`` in a fresh interpreter and return its result."""
    command = [sys.executable, __file__, "--worker", name, "--device", device, "--pairs", str(args.pairs)]
    command += ["--threads", str(args.threads), "--variant", args.variant, "--size", *map(str, SIZE)]
    command += ["--smoke"] if args.smoke else []
    command += ["--clips", str(args.clips), "--flow-out", flow_out] + (
        ["--batch", str(batch)] if batch else []
    )
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"benchmarks/flow.py: error: {name} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.splitlines()[-1])


def fused_bandwidth(backend: TorchTVL1, clips: Path, batch: int) -> dict:
    """Time the C++ flow of a batch of pairs; bytes/s its iterations move (a lower bound: the time
    includes the warps, medians and pyramid)."""
    prev, nxt, _ = load_pairs(batch, clips)
    start = time.perf_counter()
    _, pixel_iterations = native.flow_arrays(prev, nxt, backend.native_params())
    seconds = time.perf_counter() - start
    bytes_moved = STEP_BYTES_PER_PIXEL * sum(pixel_iterations)
    return {
        "batch": batch,
        "fused_cpp": True,
        "pixel_iterations": sum(pixel_iterations),
        "step_ms": 1e3 * seconds * SIZE[0] * SIZE[1] / sum(pixel_iterations) * batch,
        "bytes_per_step": STEP_BYTES_PER_PIXEL * batch * SIZE[0] * SIZE[1],
        "bytes_per_s": bytes_moved / seconds,
    }


def bandwidth_report(device: str, clips: Path) -> dict:
    """How close the torch iteration comes to the memory bandwidth of the device."""
    backend = TorchTVL1(device, variant="cuda")
    copy = copy_bandwidth(device)
    report = {"copy_bytes_per_s": copy, "steps": []}
    if backend.fused:  # the C++ loop: iterations counted in the flow itself
        for batch in (1, 2 * torch.get_num_threads()):
            step = fused_bandwidth(backend, clips, batch)
            step["fraction_of_copy"] = step["bytes_per_s"] / copy
            report["steps"].append(step)
        return report
    batches = GPU_BATCHES if device.startswith("cuda") else [1, 8]
    for batch in batches:
        step = step_bandwidth(backend, batch)
        step["fraction_of_copy"] = step["bytes_per_s"] / copy
        report["steps"].append(step)
    if device.startswith("cuda"):
        name = torch.cuda.get_device_name(device)
        peak = next((bw for key, bw in PEAK_BANDWIDTH.items() if key in name), None)
        report.update(gpu=name, datasheet_bytes_per_s=peak)
        for step in report["steps"]:
            step["fraction_of_datasheet"] = step["bytes_per_s"] / peak if peak else None
    return report


def clip_rows(clips: Path, videos: int) -> pd.DataFrame:
    """Manifest rows of the first ``videos`` clips (sorted by path) under ``clips``."""
    paths = sorted(p for p in clips.rglob("*") if p.suffix in (".avi", ".mp4"))[:videos]
    if not paths:
        sys.exit(f"benchmarks/flow.py: error: --extract needs video clips under {clips}")
    rows = []
    for k, path in enumerate(paths):
        cap = cv2.VideoCapture(str(path))
        rows.append({"video_id": f"v{k}_{path.stem}", "path": str(path), "label": 0, "class_name": "C",
                     "frames": int(cap.get(cv2.CAP_PROP_FRAME_COUNT)), "fps": cap.get(cv2.CAP_PROP_FPS) or 25.0})
        cap.release()
    return pd.DataFrame(rows)


def extract_report(clips: Path, videos: int, threads: int, variant: str) -> dict:
    """``extract`` on the same clips with the same backend: serial (``extract_video`` one video after another)
    and pipelined (``extract_chunk``: decoding workers, batches across videos, a writer thread); pairs/s of
    each and whether their shards are byte-identical."""
    rows = clip_rows(clips, videos)
    backend = get_backend("torch", "cpu", variant)
    backend.compute(*load_pairs(1, clips)[:2])  # any build or compile outside the timing
    settings = dict(size=SIZE, bound=20.0, quality=90, length=5)
    with tempfile.TemporaryDirectory() as tmp:
        serial_dir, piped_dir = Path(tmp) / "serial", Path(tmp) / "pipelined"
        serial_dir.mkdir()
        start = time.perf_counter()
        decoded = [extract_video(row, backend, shard_path(serial_dir, row["video_id"]), **settings)[0]
                   for _, row in rows.iterrows()]
        serial = time.perf_counter() - start
        start = time.perf_counter()
        index = extract_chunk(rows, backend, piped_dir, workers=threads, encoders=threads, **settings)
        pipelined = time.perf_counter() - start
        identical = all(Path(shard).read_bytes() == shard_path(serial_dir, vid).read_bytes()
                        for vid, shard in zip(index["video_id"], index["shard"]))
    pairs = sum(n - 1 for n in decoded)
    return {"videos": list(rows["path"]), "pairs": pairs, "threads": threads, "serial_s": serial,
            "pipelined_s": pipelined, "serial_pairs_per_s": pairs / serial, "pipelined_pairs_per_s": pairs / pipelined,
            "shards_byte_identical": identical}


def main() -> None:
    global SIZE
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default=None, help="comma-separated (default: every one available)")
    parser.add_argument("--pairs", type=int, default=32, help="frame pairs (default 32)")
    parser.add_argument("--device", default="auto", help="device for torch: auto, cpu, cuda, cuda:N")
    parser.add_argument(
        "--threads", type=int, default=torch.get_num_threads(), help="CPU threads of torch and OpenCV"
    )
    parser.add_argument("--clips", type=Path, default=CLIPS, help="folder of video clips")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "out" / "flow.json")
    parser.add_argument("--variant", default=schema_default("flow.variant"), choices=("cpu", "cuda"),
                        help="torch: the OpenCV class it follows (default: flow.variant's, from the schema)")
    parser.add_argument("--size", type=int, nargs=2, default=list(SIZE), metavar=("H", "W"), help="frame size")
    parser.add_argument("--smoke", action="store_true", help="2 pairs at 48x64, torch eager: a quick check")
    parser.add_argument("--extract", type=int, metavar="VIDEOS",
                        help="instead: extract the first VIDEOS clips serially and pipelined (torch, CPU); pairs/s")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--flow-out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    SIZE = (48, 64) if args.smoke else tuple(args.size)
    if args.smoke:
        args.pairs = 2
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    if args.worker:
        print(
            json.dumps(
                run_backend(args.worker, args.device, args.pairs, args.clips, args.batch, args.flow_out,
                            args.variant, args.smoke)
            )
        )
        return

    if args.extract:
        report = extract_report(args.clips, args.extract, args.threads, args.variant)
        print(f"extract, {report['pairs']} pairs of {len(report['videos'])} clips, {args.threads} threads: serial "
              f"{report['serial_pairs_per_s']:.2f} pairs/s, pipelined {report['pipelined_pairs_per_s']:.2f} pairs/s; "
              f"shards byte-identical: {report['shards_byte_identical']}")
        write_text(json.dumps(report, indent=2) + "\n", args.out)
        print(f"-> {args.out}")
        return
    device = resolve_device(args.device)
    backends = args.backends.split(",") if args.backends else ["torch", "opencv-cpu"]
    if not args.backends and opencv_cuda_unavailable() is None:
        backends.append("opencv-cuda")
    notes = []
    if not hasattr(cv2, "optflow") and {"opencv-cpu"} & set(backends):
        backends = [b for b in backends if b != "opencv-cpu"]
        notes.append(f"opencv-cpu skipped: OpenCV {cv2.__version__} has no cv2.optflow (install opencv-contrib)")
        print(notes[-1])
    _, _, clips_used = load_pairs(args.pairs, args.clips)
    report = {
        "size": list(SIZE),
        "clips": clips_used,
        "threads": args.threads,
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "load_average_before": os.getloadavg(),
        "torch": torch.__version__,
        "opencv": cv2.__version__,
        "variant": args.variant,
        "notes": notes,
        "runs": [],
    }
    with tempfile.TemporaryDirectory() as tmp:
        flows = {}
        for name in sorted(backends, key=lambda b: b != "opencv-cpu"):  # the reference first
            runs = [None]
            if name == "torch" and device.startswith("cuda"):
                runs = GPU_BATCHES
            for batch in runs:
                flow_out = f"{tmp}/{name}-{batch}.npy"
                result = in_subprocess(args, name, "cpu" if name == "opencv-cpu" else device, batch, flow_out)
                flows[name] = np.load(flow_out)
                if "opencv-cpu" in flows and name != "opencv-cpu":
                    result["epe_vs_opencv_cpu"] = epe(flows[name], flows["opencv-cpu"])
                    result["epe_vs_opencv_cpu_per_pair"] = [
                        epe(a, b) for a, b in zip(flows[name], flows["opencv-cpu"])
                    ]
                report["runs"].append(result)
                print_run(result)
        speed = {r["backend"]: r["pairs_per_s"] for r in report["runs"] if r.get("batch_size") in (None, CPU_BATCH)}
        if "torch" in speed and "opencv-cpu" in speed:
            report["torch_over_opencv_cpu"] = speed["torch"] / speed["opencv-cpu"]
            print(f"torch ({args.variant} variant) / opencv-cpu speed in this run: {report['torch_over_opencv_cpu']:.2f}x")
        if "torch" in backends and not args.smoke:
            report["torch_iteration"] = bandwidth_report(device, args.clips)
            print_bandwidth(report["torch_iteration"])
    report["load_average_after"] = os.getloadavg()
    write_text(json.dumps(report, indent=2) + "\n", args.out)
    print(f"load average before/after: {report['load_average_before']} / {report['load_average_after']}")
    print(f"-> {args.out}")


def print_run(r: dict) -> None:
    extra = f" batch {r['batch_size']}" if "batch_size" in r else ""
    gpu = f", GPU peak {r['max_memory_allocated_mb']:.0f} MB" if "max_memory_allocated_mb" in r else ""
    versus = ""
    if "epe_vs_opencv_cpu" in r:
        median = np.median(r["epe_vs_opencv_cpu_per_pair"])
        versus = f", EPE vs opencv-cpu {r['epe_vs_opencv_cpu']:.3f} px (median over pairs {median:.3f})"
    print(
        f"{r['backend']}{extra}: {r['pairs_per_s']:.2f} pairs/s ({r['pairs']} pairs in {r['seconds']:.1f} s; "
        f"first call {r['first_call_s']:.1f} s), peak RSS {r['peak_rss_mb']:.0f} MB{gpu}{versus}",
        flush=True,
    )


def print_bandwidth(report: dict) -> None:
    for s in report["steps"]:
        datasheet = (
            f", {100 * s['fraction_of_datasheet']:.0f}% of datasheet"
            if s.get("fraction_of_datasheet")
            else ""
        )
        what = "C++ flow (iteration time incl. warps, medians), frame-iteration" if s.get("fused_cpp") else "iteration"
        print(
            f"torch {what}, batch {s['batch']}: {s['step_ms']:.3f} ms, {s['bytes_per_s'] / 1e9:.1f} GB/s "
            f"= {100 * s['fraction_of_copy']:.0f}% of copy bandwidth ({report['copy_bytes_per_s'] / 1e9:.1f} GB/s){datasheet}"
        )
    if "gpu" in report:
        print(f"GPU: {report['gpu']}")


if __name__ == "__main__":
    main()
