"""One command to check the flow stack on a GPU machine; ``--dry`` runs the same steps tiny on the CPU.

    python benchmarks/gpu_check.py [--device cuda] [--out benchmarks/out/gpu_check.json]   # <= ~8 min on one H200
    python benchmarks/gpu_check.py --dry                                                  # seconds, CPU (the tests run it)

Self-contained: it makes its own frames and clips (a smooth random texture moved by known
sub-pixel shifts, written as lossless FFV1 videos) and uses ../shared's FlyingChairs pairs
only if they are there. Steps, each recorded in the JSON report (a failing step is recorded
with its error and the rest go on; the exit status is 1 if any step failed):

1. environment: torch, CUDA, GPU name and memory, OpenCV and whether it has cv2.optflow / CUDA;
2. correctness: torch TV-L1 on the device (the torch loop; ``--dry``: the same on the CPU) against
   the CPU's default (the C++ kernel where it builds; EPE < 0.05 px), compiled against eager on
   the device, and the number of graphs compiled (one per function expected);
3. flow pairs/s and peak device memory at batch 1, 2, 4, ..., 256 (``--dry``: 1, 2);
4. ``extract`` end to end (decode, flow, quantise, write, verify) on generated clips: pairs/s;
5. ``benchmarks/train.py`` (the training-step benchmark) in its GPU mode, as a subprocess, if present.

Goals at 256x340 on one H200 (issue 10): flow alone >= 2,000 pairs/s, extract >= 1,000 pairs/s.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import torch

from twostream.data.extract import extract_chunk
from twostream.data.shards import Shard
from twostream.files import write_text
from twostream.flow.metrics import epe
from twostream.flow.tvl1 import TorchTVL1

REPO = Path(__file__).resolve().parents[1]
CHAIRS = REPO.parent / "shared" / "data" / "flow_gt" / "flyingchairs"
COMPILE: bool | None = None  # None: where it works; --dry runs eagerly (compiling takes minutes on a busy CPU)


def texture_pairs(n: int, size: tuple[int, int], seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` pairs of a smooth random texture, the second frame shifted by a random sub-pixel amount."""
    rng = np.random.default_rng(seed)
    h, w = size
    base = cv2.GaussianBlur(rng.uniform(0, 255, (h + 16, w + 16)).astype(np.float32), (0, 0), 2.0)
    prev, nxt = [], []
    for _ in range(n):
        dx, dy = rng.uniform(-2, 2, 2)
        shift = np.float32([[1, 0, dx], [0, 1, dy]])
        moved = cv2.warpAffine(base, shift, (w + 16, h + 16), flags=cv2.INTER_CUBIC)
        prev.append(base[8:8 + h, 8:8 + w])
        nxt.append(moved[8:8 + h, 8:8 + w])
    return np.clip(np.stack(prev), 0, 255).astype(np.uint8), np.clip(np.stack(nxt), 0, 255).astype(np.uint8)


def environment() -> dict:
    gpu = torch.cuda.is_available()
    return {
        "python": platform.python_version(), "torch": torch.__version__, "cuda": torch.version.cuda,
        "gpu": torch.cuda.get_device_name(0) if gpu else None,
        "gpu_memory_gb": torch.cuda.get_device_properties(0).total_memory / 2**30 if gpu else None,
        "opencv": cv2.__version__, "opencv_optflow": hasattr(cv2, "optflow"),
        "opencv_cuda_devices": cv2.cuda.getCudaEnabledDeviceCount(),
    }


def correctness(device: str, size: tuple[int, int], pairs: int) -> dict:
    prev, nxt = texture_pairs(pairs, size)
    cpu = TorchTVL1("cpu", variant="cuda").compute(prev, nxt)  # on a CPU: the C++ kernel where it builds
    compiled_backend = TorchTVL1(device, variant="cuda", compile=COMPILE, fused=False)  # the torch loop, as CUDA runs it
    compiled = compiled_backend.compute(prev, nxt)
    eager = (TorchTVL1(device, variant="cuda", compile=False, fused=False).compute(prev, nxt) if compiled_backend._step.compiled
             else compiled)  # not compiled (--dry): it ran eagerly already
    result = {"epe_device_vs_cpu": epe(compiled, cpu), "epe_compiled_vs_eager": epe(compiled, eager),
              "compiled": compiled_backend._step.compiled and compiled_backend._warp.compiled}
    try:
        from torch._dynamo.utils import counters

        result["graphs_compiled"] = int(counters["stats"]["unique_graphs"])
    except Exception:  # counters are private API; absent in some releases
        result["graphs_compiled"] = None
    result["ok"] = result["epe_device_vs_cpu"] < 0.05 and result["epe_compiled_vs_eager"] < 1e-3
    if CHAIRS.is_dir():
        img = [cv2.imread(str(CHAIRS / f"0000000-img{k}.png"), cv2.IMREAD_GRAYSCALE) for k in (0, 1)]
        img = [cv2.resize(i, (size[1], size[0]), interpolation=cv2.INTER_AREA)[None] for i in img]
        result["flyingchairs_epe_device_vs_cpu"] = epe(TorchTVL1(device, variant="cuda", compile=COMPILE, fused=False).compute(*img),
                                                       TorchTVL1("cpu", variant="cuda").compute(*img))
    return result


def throughput(device: str, size: tuple[int, int], batches: list[int]) -> list[dict]:
    rows = []
    for batch in batches:
        prev, nxt = texture_pairs(batch, size, seed=batch)
        backend = TorchTVL1(device, variant="cuda", batch_size=batch, compile=COMPILE)
        backend.compute(prev[:1], nxt[:1])  # compile and warm up
        if device.startswith("cuda"):
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter()
        backend.compute(prev, nxt)
        seconds = time.perf_counter() - start
        peak = torch.cuda.max_memory_allocated() / 2**20 if device.startswith("cuda") else None
        rows.append({"batch": batch, "pairs_per_s": batch / seconds, "peak_memory_mb": peak})
        print(f"flow batch {batch}: {batch / seconds:.1f} pairs/s", flush=True)
    return rows


def write_clips(folder: Path, videos: int, frames: int, size: tuple[int, int]) -> pd.DataFrame:
    rows = []
    for v in range(videos):
        prev, nxt = texture_pairs(frames, size, seed=100 + v)
        path = folder / f"clip{v}.avi"
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"FFV1"), 25, (size[1], size[0]))
        for frame in [prev[0], *nxt[:-1]]:
            writer.write(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR))
        writer.release()
        rows.append({"video_id": f"clip{v}", "path": str(path), "label": 0, "class_name": "C", "frames": frames,
                     "fps": 25.0})
    return pd.DataFrame(rows)


def extract_end_to_end(device: str, size: tuple[int, int], videos: int, frames: int, workers: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        rows = write_clips(Path(tmp), videos, frames, size)
        backend = TorchTVL1(device, variant="cuda", compile=COMPILE)
        backend.compute(*texture_pairs(1, size))  # compile outside the timing
        start = time.perf_counter()
        index = extract_chunk(rows, backend, Path(tmp) / "shards", size=size, bound=20, quality=90, length=5,
                              workers=workers)
        seconds = time.perf_counter() - start
        ok = index["status"].eq("ok").all()
        for shard in index["shard"]:
            with Shard(shard) as s:
                s.verify()
    pairs = videos * (frames - 1)
    return {"videos": videos, "pairs": pairs, "seconds": seconds, "pairs_per_s": pairs / seconds, "ok": bool(ok)}


def train_benchmark(device: str, dry: bool) -> dict:
    script = REPO / "benchmarks" / "train.py"
    if not script.is_file():
        return {"skipped": "benchmarks/train.py is not in this checkout"}
    command = [sys.executable, str(script), "--device", device] + (["--smoke"] if dry else [])
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    return {"command": " ".join(command[1:]), "returncode": done.returncode, "output_tail": done.stdout[-3000:],
            "stderr_tail": done.stderr[-2000:], "ok": done.returncode == 0}


def step(report: dict, name: str, fn: Callable[[], object]) -> None:
    """Run one check; record its result, or its error (the other checks still run)."""
    start = time.perf_counter()
    try:
        report[name] = fn()
    except Exception as e:
        report[name] = {"ok": False, "error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc()[-3000:]}
    print(f"{name}: {time.perf_counter() - start:.1f} s", flush=True)


def main() -> int:
    global COMPILE
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry", action="store_true", help="the same steps, tiny, on the CPU")
    parser.add_argument("--device", default="cuda", help="device to check (cuda, cuda:N)")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "out" / "gpu_check.json")
    args = parser.parse_args()
    device = "cpu" if args.dry else args.device
    COMPILE = False if args.dry else None
    if not args.dry and not torch.cuda.is_available():
        print("benchmarks/gpu_check.py: error: torch sees no CUDA device (use --dry to check on the CPU)")
        return 2
    size = (32, 40) if args.dry else (256, 340)
    batches = [1, 2] if args.dry else [2**k for k in range(9)]
    report: dict = {"dry": args.dry, "device": device, "size": list(size)}
    step(report, "environment", environment)
    step(report, "correctness", lambda: correctness(device, size, 2 if args.dry else 8))
    step(report, "flow_throughput", lambda: throughput(device, size, batches))
    # --dry: one decoding worker (each one starts a Python that imports the package: seconds on a busy CPU)
    step(report, "extract", lambda: extract_end_to_end(device, size, 2 if args.dry else 32, 6 if args.dry else 64,
                                                       1 if args.dry else 4))
    step(report, "train", lambda: train_benchmark(device, args.dry))
    write_text(json.dumps(report, indent=2, default=str) + "\n", args.out)
    failed = [k for k, v in report.items() if isinstance(v, dict) and v.get("ok") is False]
    print(f"-> {args.out}" + (f"; failed: {', '.join(failed)}" if failed else "; all checks passed"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
