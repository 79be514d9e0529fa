"""Check the GPU stack on a GPU machine in parts that each finish within 8 minutes on one H100;
``--dry`` runs every part tiny on the CPU (seconds; the test suite runs it).

    python benchmarks/gpu_check.py --part flow    [--device cuda] [--out benchmarks/out/gpu_check_flow.json]
    python benchmarks/gpu_check.py --part extract [--threads N]
    python benchmarks/gpu_check.py --part train
    python benchmarks/gpu_check.py --part eval
    python benchmarks/gpu_check.py --part flow --dry          # CPU, seconds

It puts this checkout's ``src`` on the path itself. The JSON report is written again after every
measurement (atomically), so a run killed at any point leaves what it measured; a failing
measurement is recorded with its error and the rest go on (exit status 1 if any failed).

* ``flow``: the environment; correctness on the device (the Triton iteration, both variants) against
  the CPU's C++ reference (EPE < 0.05 px on textures, and on a FlyingChairs pair where ../shared has
  it); the first call's time (the warp's compile) and the number of graphs compiled after every batch
  size (one expected); pairs/s and peak memory at batch 1, 2, 4, ..., 256 on real clip pairs, each
  batch size run once untimed first; the iteration kernel alone in GB/s against the datasheet.
* ``extract``: ``extract_chunk`` end to end on the shared real clips (listed several times) at
  ``--threads`` decoding workers and JPEG threads (the workflow's extract rule passes its threads),
  shards verified and one compared byte for byte with the serial ``extract_video``.
* ``train``: one training step of every model kind (the stream, ResNet-50, 3 segments, bf16 on
  CUDA; CMMP; CMA; conv fusion) on a batch already on the device, clips/s per batch size, after
  warm-up steps; then the RGB stream with ``train.compile`` (first step = compile time, clips/s, graphs).
* ``eval``: evaluation videos/s of every kind at 25 segments x 10 crops through ``eval.predict``
  (the evaluate command's path), shards read by its loader.

Goals on one H100 (issue 23): flow >= 2,500 pairs/s at 256x340, extract >= 1,500 pairs/s, training
>= 1,000 clips/s per ResNet-50 stream, evaluation >= 50 videos/s at 25 x 10.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "benchmarks"))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
import yaml  # noqa: E402

from twostream.data.extract import extract_chunk, extract_video, shard_path  # noqa: E402
from twostream.data.shards import Shard  # noqa: E402
from twostream.files import write_text  # noqa: E402
from twostream.flow.metrics import epe  # noqa: E402
from twostream.flow.tvl1 import TorchTVL1  # noqa: E402

CHAIRS = REPO.parent / "shared" / "data" / "flow_gt" / "flyingchairs"
CLIPS = REPO.parent / "shared" / "data" / "clips"
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
PARTS = ("flow", "extract", "train", "eval")
GOALS = {"flow_pairs_per_s": 2500, "extract_pairs_per_s": 1500, "train_clips_per_s_per_stream": 1000,
         "eval_videos_per_s_25x10": 50}
ITERATION_BYTES = 60  # per pixel-iteration of the Triton iteration (twostream.flow.tvl1_triton)


def default_variant() -> str:
    """``flow.variant``'s default, read from the schema (the one place defaults live)."""
    flow = yaml.safe_load(SCHEMA.read_text())["properties"]["flow"]["properties"]
    return flow["variant"]["default"]


class Report:
    """The JSON report, written to ``path`` after every ``record``; ``measure`` records a result or its error."""

    def __init__(self, path: Path, **head: object) -> None:
        self.path, self.data = path, dict(head)
        self.save()

    def save(self) -> None:
        write_text(json.dumps(self.data, indent=2, default=str) + "\n", self.path)

    def record(self, key: str, value: object) -> None:
        self.data[key] = value
        self.save()

    def append(self, key: str, value: object) -> None:
        self.data.setdefault(key, []).append(value)
        self.save()

    def measure(self, key: str, fn: Callable[[], object], append: bool = False) -> object:
        start = time.perf_counter()
        try:
            value = fn()
        except Exception as e:
            value = {"ok": False, "error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc()[-3000:]}
        (self.append if append else self.record)(key, value)
        print(f"{key}: {time.perf_counter() - start:.1f} s {json.dumps(value, default=str)[:300]}", flush=True)
        return value

    def failed(self) -> list[str]:
        def bad(v: object) -> bool:
            return isinstance(v, dict) and v.get("ok") is False
        return [k for k, v in self.data.items() if bad(v) or (isinstance(v, list) and any(bad(x) for x in v))]


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize(device)


def environment() -> dict:
    gpu = torch.cuda.is_available()
    try:
        import triton
        triton_version = triton.__version__
    except ImportError:
        triton_version = None
    return {"python": platform.python_version(), "torch": torch.__version__, "cuda": torch.version.cuda,
            "triton": triton_version, "gpu": torch.cuda.get_device_name(0) if gpu else None,
            "gpu_memory_gb": torch.cuda.get_device_properties(0).total_memory / 2**30 if gpu else None,
            "cpu_count": os.cpu_count(), "opencv": cv2.__version__, "opencv_optflow": hasattr(cv2, "optflow")}


def texture_pairs(n: int, size: tuple[int, int], seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` pairs of a smooth random texture, the second frame moved by a random sub-pixel shift."""
    rng = np.random.default_rng(seed)
    h, w = size
    base = cv2.GaussianBlur(rng.uniform(0, 255, (h + 16, w + 16)).astype(np.float32), (0, 0), 2.0)
    prev, nxt = [], []
    for _ in range(n):
        dx, dy = rng.uniform(-2, 2, 2)
        moved = cv2.warpAffine(base, np.float32([[1, 0, dx], [0, 1, dy]]), (w + 16, h + 16), flags=cv2.INTER_CUBIC)
        prev.append(base[8:8 + h, 8:8 + w])
        nxt.append(moved[8:8 + h, 8:8 + w])
    return np.clip(np.stack(prev), 0, 255).astype(np.uint8), np.clip(np.stack(nxt), 0, 255).astype(np.uint8)


def real_pairs(n: int, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """``n`` consecutive frame pairs of the shared clips (benchmarks/flow.py's), or textures without them."""
    from flow import load_pairs  # benchmarks/flow.py

    return load_pairs(n, CLIPS)[:2] if CLIPS.is_dir() and size == (256, 340) else texture_pairs(n, size, seed=7)


# ---- flow ----

def correctness(device: str, size: tuple[int, int], pairs: int, variant: str, triton: bool | None) -> dict:
    prev, nxt = texture_pairs(pairs, size)
    reference = TorchTVL1("cpu", variant=variant).compute(prev, nxt)  # the C++ reference where it builds
    backend = TorchTVL1(device, variant=variant, compile=False, fused=False, triton=triton)  # the GPU's path
    result = {"variant": variant, "implementation": backend.params()["implementation"],
              "epe_device_vs_cpu": epe(backend.compute(prev, nxt), reference)}
    result["ok"] = result["epe_device_vs_cpu"] < 0.05
    if CHAIRS.is_dir():
        img = [cv2.imread(str(CHAIRS / f"0000004-img{k}.png"), cv2.IMREAD_GRAYSCALE) for k in (0, 1)]
        img = [cv2.resize(i, (size[1], size[0]), interpolation=cv2.INTER_AREA)[None] for i in img]
        result["flyingchairs_epe_device_vs_cpu"] = epe(backend.compute(*img),
                                                       TorchTVL1("cpu", variant=variant).compute(*img))
        result["ok"] = result["ok"] and result["flyingchairs_epe_device_vs_cpu"] < 0.05
    return result


def compile_time(backend: TorchTVL1, size: tuple[int, int]) -> dict:
    from torch._dynamo.utils import counters

    prev, nxt = texture_pairs(2, size)
    start = time.perf_counter()
    backend.compute(prev, nxt)
    sync(str(backend.device))
    return {"first_call_s": time.perf_counter() - start, "graphs": int(counters["stats"]["unique_graphs"]),
            "warp_compiled": backend._warp.compiled, "implementation": backend.params()["implementation"]}


def throughput(backend: TorchTVL1, size: tuple[int, int], batch: int) -> dict:
    prev, nxt = real_pairs(batch, size)
    backend.batch_size = batch
    backend.compute(prev, nxt)  # warm-up at this batch size (any compile or autotuning outside the timing)
    device = str(backend.device)
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    sync(device)
    start = time.perf_counter()
    backend.compute(prev, nxt)
    sync(device)
    seconds = time.perf_counter() - start
    peak = torch.cuda.max_memory_allocated() / 2**20 if device.startswith("cuda") else None
    return {"batch": batch, "pairs_per_s": batch / seconds, "seconds": seconds, "peak_memory_mb": peak}


def iteration_bandwidth(device: str, size: tuple[int, int], batch: int, iterations: int) -> dict:
    """The Triton iteration alone (no stopping: epsilon 0) on random planes: GB/s at 60 B per pixel-iteration."""
    from twostream.flow import tvl1_triton

    planes = [torch.randn((batch, *size), device=device) for _ in range(9)]
    kw = dict(l_t=0.045, theta=0.3, taut=0.25 / 0.3, total=iterations, median_every=0, threshold=0.0,
              cuda_rule=False, check_every=iterations)
    tvl1_triton.run_warp(planes[:6], planes[6:], **kw)  # warm-up (kernel compile)
    sync(device)
    start = time.perf_counter()
    tvl1_triton.run_warp(planes[:6], planes[6:], **kw)
    sync(device)
    seconds = time.perf_counter() - start
    rate = ITERATION_BYTES * batch * size[0] * size[1] * iterations / seconds
    peak = None
    if device.startswith("cuda"):
        from flow import PEAK_BANDWIDTH  # benchmarks/flow.py

        name = torch.cuda.get_device_name(device)
        peak = next((bw for key, bw in PEAK_BANDWIDTH.items() if key in name), None)
    return {"batch": batch, "iterations": iterations, "bytes_per_pixel_iteration": ITERATION_BYTES,
            "bytes_per_s": rate, "fraction_of_datasheet": rate / peak if peak else None}


def part_flow(report: Report, device: str, dry: bool) -> None:
    size = (32, 40) if dry else (256, 340)
    variant = default_variant()
    triton = None if not dry else False  # --dry: the torch loop on the CPU (the interpreter is the tests' job)
    for v in dict.fromkeys([variant, "cpu", "cuda"]):
        report.measure("correctness", lambda v=v: correctness(device, size, 2 if dry else 8, v, triton), append=True)
    backend = TorchTVL1(device, variant=variant, compile=False if dry else None, fused=False, triton=triton)
    report.measure("compile", lambda: compile_time(backend, size))
    for batch in ([1, 2] if dry else [2**k for k in range(9)]):
        report.measure("flow_throughput", lambda b=batch: throughput(backend, size, b), append=True)
    report.measure("graphs_after_all_batches", lambda: compile_time(backend, size)["graphs"])
    if not dry:
        report.measure("iteration_bandwidth", lambda: iteration_bandwidth(device, size, 64, 100))


# ---- extract ----

def clip_rows(folder: Path, size: tuple[int, int], copies: int, dry: bool) -> pd.DataFrame:
    """The shared clips, each listed ``copies`` times (separate shards); generated FFV1 clips under --dry or without them."""
    paths = sorted(p for p in CLIPS.rglob("*") if p.suffix in (".avi", ".mp4")) if CLIPS.is_dir() and not dry else []
    if not paths:
        for v in range(2):
            prev, nxt = texture_pairs(6, size, seed=100 + v)
            path = folder / f"clip{v}.avi"
            writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"FFV1"), 25, (size[1], size[0]))
            for frame in [prev[0], *nxt[:-1]]:
                writer.write(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR))
            writer.release()
            paths.append(path)
    rows = []
    for c in range(copies):
        for path in paths:
            cap = cv2.VideoCapture(str(path))
            frames = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
            cap.release()
            rows.append({"video_id": f"c{c}_{path.stem}", "path": str(path), "label": 0, "class_name": "C",
                         "frames": frames, "fps": 25.0})
    return pd.DataFrame(rows)


def extract_end_to_end(device: str, size: tuple[int, int], copies: int, threads: int, dry: bool) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        rows = clip_rows(Path(tmp), size, copies, dry)
        backend = TorchTVL1(device, variant=default_variant(), compile=False if dry else None,
                            triton=False if dry else None)
        backend.compute(*texture_pairs(2, size))  # compile outside the timing
        settings = dict(size=size, bound=20.0, quality=90, length=5)
        start = time.perf_counter()
        index = extract_chunk(rows, backend, Path(tmp) / "shards", workers=threads, encoders=threads, **settings)
        seconds = time.perf_counter() - start
        frames = 0
        for shard in index["shard"]:
            with Shard(shard) as s:
                frames += s.verify()
        first = rows.iloc[0]
        (Path(tmp) / "serial").mkdir()
        serial = shard_path(Path(tmp) / "serial", first["video_id"])
        extract_video(first, backend, serial, **settings)
        identical = serial.read_bytes() == Path(index["shard"].iloc[0]).read_bytes()
    pairs = frames - len(index)
    ok = bool(index["status"].eq("ok").all()) and identical
    return {"videos": len(rows), "pairs": pairs, "threads": threads, "seconds": seconds, "pairs_per_s": pairs / seconds,
            "byte_identical_to_serial": identical, "ok": ok}


def part_extract(report: Report, device: str, dry: bool, threads: int) -> None:
    size = (32, 40) if dry else (256, 340)
    report.measure("extract", lambda: extract_end_to_end(device, size, 1 if dry else 24, 1 if dry else threads, dry))


# ---- train and eval: every model kind ----

def kind_configs(depth: int, classes: int) -> dict[str, dict]:
    """A config of every model kind (what their commands build from stage-1 streams)."""
    from twostream.models import checkpoint

    rgb = checkpoint.stream_config("rgb", depth, classes, 0.5, 5)
    flow = checkpoint.stream_config("flow", depth, classes, 0.5, 5)
    return {
        "stream_rgb": ("stream", rgb),
        "stream_flow": ("stream", flow),
        "cmmp": ("cmmp", {"variant": "cmmp", "fusion": "cmmp", "adversarial": True, "per_sample": False,
                          "rgb": rgb, "flow": flow}),
        "cma": ("cma", {"rgb": rgb, "flow": flow, "nonlocal_rgb": True, "iteration": 1, "trained": "rgb"}),
        "conv_fusion": ("conv_fusion", {"stage": "layer4", "rgb": rgb, "flow": flow}),
    }


def preset(dry: bool) -> dict:
    if dry:
        return dict(size=(40, 48), depth=10, crop=32, batches=[2], steps=2, warmup=1, eval_videos=1, segments=3,
                    eval_segments=2, eval_crops=10, workers=0)
    return dict(size=(256, 340), depth=50, crop=224, batches=[32, 64, 128], steps=10, warmup=3, eval_videos=16,
                segments=3, eval_segments=25, eval_crops=10, workers=min(12, os.cpu_count() or 1))


def train_kind(name: str, kind: str, config: dict, index: pd.DataFrame, batch: int, p: dict, device: torch.device,
               scratch: Path, compile: bool = False) -> dict:
    """clips/s of one kind's training step at ``batch`` after warm-up steps; ``compile``: with ``train.compile``
    (its first step's seconds, the compile, and the graphs Dynamo compiled in all, one expected, also reported;
    --dry compiles with Dynamo's eager backend: the wiring, not Inductor, which takes minutes on a CPU)."""
    from train import timed  # benchmarks/train.py

    from twostream import precision
    from twostream.data.dataset import TSNDataset
    from twostream.kinds import KINDS
    from twostream.models.cma import set_trainable
    from twostream.train.engine import Schedule, Trainer

    code = KINDS[kind].code()
    net = precision.place(code.build(config), device)
    if kind == "cma":
        set_trainable(net, config["trained"])
    modalities = code.modalities(config)
    data = TSNDataset(index, modalities, segments=p["segments"], length=5, crop=p["crop"], train=True, seed=0,
                      decode="cpu")
    steps = p["warmup"] + p["steps"]
    sched = Schedule(steps=steps, lr=0.01, batch_size=batch, milestones=[], plateau_patience=0, momentum=0.9,
                     weight_decay=5e-4, clip_grad=0.0, workers=p["workers"], checkpoint_every=0, precision="auto",
                     compile=compile and device.type == "cuda", prefetch=2)
    trainer = Trainer(net, [q for q in net.parameters() if q.requires_grad], data, sched, seed=0,
                      resume=scratch / f"{name}.resume", run_id="gpu_check", device=device)
    if compile and device.type != "cuda":
        trainer.net = torch.compile(trainer.net, backend="eager")
    ready = trainer.move(next(iter(trainer.loader())), device)  # one batch on the device, reused
    step = code.step(config, device)
    trainer.model.train()
    if compile:
        torch._dynamo.reset()
        torch._dynamo.utils.counters.clear()
    start = time.perf_counter()
    trainer.train_step(step, ready)
    sync(str(device))
    first = time.perf_counter() - start
    seconds = timed(device, [ready] * steps, p["warmup"], lambda b: trainer.train_step(step, b))
    out = {"model": name, "batch": batch, "segments": p["segments"], "precision": str(trainer.precision),
           "compile": compile, "first_step_s": first, "step_clips_per_s": batch * p["steps"] / seconds}
    if compile:
        out["graphs"] = torch._dynamo.utils.counters["stats"]["unique_graphs"]
    return out


def eval_kind(name: str, kind: str, config: dict, index: pd.DataFrame, p: dict, device: torch.device) -> dict:
    from twostream.data.dataset import TSNDataset
    from twostream.eval.predict import predict
    from twostream.kinds import KINDS, checkpoint_scorer

    ckpt = {"kind": kind, "config": config, "state_dict": KINDS[kind].code().build(config).state_dict()}
    modalities, score = checkpoint_scorer(ckpt, device)
    kw = dict(batch_size=1, workers=p["workers"], precision="auto")

    def dataset(rows: slice) -> TSNDataset:
        return TSNDataset(index.iloc[rows].reset_index(drop=True), modalities, segments=p["eval_segments"], length=5,
                          crop=p["crop"], train=False, crops=p["eval_crops"], decode="cpu")

    predict(score, dataset(slice(0, 1)), modalities, device, **kw)  # warm-up (cuDNN autotuning)
    data = dataset(slice(1, p["eval_videos"] + 1))
    sync(str(device))
    start = time.perf_counter()
    predict(score, data, modalities, device, **kw)
    sync(str(device))
    return {"model": name, "segments": p["eval_segments"], "crops": p["eval_crops"],
            "videos_per_s": len(data) / (time.perf_counter() - start)}


def part_models(report: Report, device: str, dry: bool, what: str) -> None:
    from train import CLASSES, make_shards  # benchmarks/train.py

    p = preset(dry)
    dev = torch.device(device)
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        rows = max(max(p["batches"]) * (p["warmup"] + p["steps"]), p["eval_videos"]) + 1
        index = make_shards(Path(tmp), p["size"], rows)
        for name, (kind, config) in kind_configs(p["depth"], CLASSES).items():
            if what == "train":
                for batch in p["batches"]:
                    report.measure("train", lambda n=name, k=kind, c=config, b=batch: train_kind(
                        n, k, c, index, b, p, dev, Path(tmp)), append=True)
            else:
                report.measure("eval", lambda n=name, k=kind, c=config: eval_kind(n, k, c, index, p, dev), append=True)
        if what == "train":  # train.compile: the RGB stream at the middle batch size, against its eager row
            kind, config = kind_configs(p["depth"], CLASSES)["stream_rgb"]
            batch = p["batches"][len(p["batches"]) // 2]
            report.measure("train_compiled", lambda: train_kind("stream_rgb", kind, config, index, batch, p, dev,
                                                                Path(tmp), compile=True))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", required=True, choices=PARTS)
    parser.add_argument("--dry", action="store_true", help="the same part, tiny, on the CPU (seconds)")
    parser.add_argument("--device", default="cuda", help="device to check (cuda, cuda:N)")
    parser.add_argument("--threads", type=int, default=max(1, (os.cpu_count() or 1) // max(1, torch.cuda.device_count())),
                        help="extract: decoding workers and JPEG threads (default: what the extract rule asks for, "
                             "the cores over the GPUs)")
    parser.add_argument("--out", type=Path, help="JSON report (default benchmarks/out/gpu_check_<part>.json)")
    args = parser.parse_args()
    device = "cpu" if args.dry else args.device
    if not args.dry and not torch.cuda.is_available():
        print("benchmarks/gpu_check.py: error: torch sees no CUDA device (use --dry to check on the CPU)")
        return 2
    if args.dry:
        torch.set_num_threads(1)
    out = args.out or REPO / "benchmarks" / "out" / f"gpu_check_{args.part}.json"
    report = Report(out, part=args.part, dry=args.dry, device=device, goals=GOALS)
    report.measure("environment", environment)
    if args.part == "flow":
        part_flow(report, device, args.dry)
    elif args.part == "extract":
        part_extract(report, device, args.dry, args.threads)
    else:
        part_models(report, device, args.dry, args.part)
    failed = report.failed()
    print(f"-> {out}" + (f"; failed: {', '.join(failed)}" if failed else "; all checks passed"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
