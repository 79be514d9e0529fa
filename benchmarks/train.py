"""Training and evaluation throughput of one stream: the step alone, the loader alone, both together.

For each stream (RGB, flow), batch size and decode path (loader workers decode JPEGs: cpu;
batched nvJPEG on the device: gpu) it measures TSN training clips per second (K snippets per
clip) of
  step    Trainer.train_step on uint8 batches already on the device (to_input, forward under the
          configured precision, channels-last on CUDA, backward, SGD step): the GPU's ceiling;
  loader  the Trainer's DataLoader (workers, prefetch, pinned memory) and its device copy or
          device decode, with no training: the input pipeline's ceiling;
  both    the Trainer's loop: loader, device copy/decode and train_step, as training runs it;
and evaluation videos per second at S segments x C crops through ``eval.predict`` (the
evaluate command's path). With the gpu path it also records the largest difference between
device-decoded batches and the CPU path's (same crops and flips; JPEG decoders may round apart). Data are synthetic shards (textured frames and smooth flow, JPEG
quality 90, the papers' 256x340 frames on CUDA) in a scratch folder, made once per run.

    python benchmarks/train.py --device cuda [--out benchmarks/out/train_cuda.json]   # ResNet-50, 224, B 32-128
    python benchmarks/train.py                 # CPU: ResNet-18 at 112, batch 8
    python benchmarks/train.py --smoke         # seconds: tiny sizes, both decode paths (tests run this)

Prints a table and writes JSON (default benchmarks/out/train_<device>.json). Goals on one
H200 (issue 12): >= 800 training clips/s per ResNet-50 stream with the loader, evaluation
>= 50 videos/s at 25 x 10.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

# Idle OpenMP threads sleep (as the workflow's rules run): spinning ones slow a loaded machine down 3-10x.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from twostream.data.dataset import TSNDataset  # noqa: E402
from twostream.data.shards import quantize_flow, write_shard  # noqa: E402
from twostream.data.transforms import to_input  # noqa: E402
from twostream.eval.predict import predict  # noqa: E402
from twostream.kinds import checkpoint_scorer  # noqa: E402
from twostream.models import checkpoint  # noqa: E402
from twostream.models.streams import tsn_forward  # noqa: E402
from twostream.train.engine import Schedule, Trainer, accuracy  # noqa: E402

GOALS = {"train_clips_per_s_per_stream_with_loader": 800, "eval_videos_per_s_25x10": 50}
PRESETS = {  # frames (H, W), depth, crop, batch sizes, steps, warm-up steps, eval videos, decode paths
    "cuda": dict(size=(256, 340), depth=50, crop=224, batch_sizes=[32, 64, 128], steps=15, warmup=5,
                 eval_videos=32, decode=["cpu", "gpu"], workers=min(12, os.cpu_count() or 1)),
    "cpu": dict(size=(128, 170), depth=18, crop=112, batch_sizes=[8], steps=4, warmup=1, eval_videos=2,
                decode=["cpu"], workers=1),
    "smoke": dict(size=(40, 48), depth=10, crop=32, batch_sizes=[2], steps=2, warmup=1, eval_videos=1,
                  decode=["cpu", "gpu"], workers=0, eval_segments=5, threads=1),
}
SHARDS, FRAMES, CLASSES = 8, 24, 4


def make_shards(folder: Path, size: tuple[int, int], rows: int) -> pd.DataFrame:
    """SHARDS synthetic videos (textured, moving; smooth flow), listed ``rows`` times in all, as a shard index."""
    rng = np.random.default_rng(0)
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    paths = []
    for v in range(SHARDS):
        base = rng.integers(0, 256, (h // 4 + 1, w // 4 + 1, 3), dtype=np.uint8)
        texture = np.kron(base, np.ones((4, 4, 1), np.uint8))[:h, :w]
        noise = rng.integers(0, 24, (FRAMES, h, w, 3), dtype=np.uint8)
        rgb = np.stack([np.roll(texture, t, axis=1) for t in range(FRAMES)]) + noise
        phase = rng.uniform(0, 2 * np.pi, FRAMES - 1)[:, None, None]
        flow = np.stack([np.sin(xx / 17 + phase) * 0.5, np.cos(yy / 23 + phase) * 0.5], -1)
        path = folder / f"v{v}.h5"
        write_shard(path, rgb, quantize_flow(flow), {"video_id": f"v{v}", "label": v % CLASSES}, quality=90)
        paths.append(str(path))
    return pd.DataFrame({"shard": [paths[i % SHARDS] for i in range(rows)],
                         "label": [i % CLASSES for i in range(rows)], "frames": FRAMES})


def stream_step(modality: str):
    """The stream trainer's step (cli/train.py): TSN scores of the batch, cross-entropy, accuracy."""
    def step(net, batch):
        scores = tsn_forward(net, to_input(batch[modality], modality))
        return F.cross_entropy(scores, batch["label"]), {"acc": accuracy(scores, batch["label"])}
    return step


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(device: torch.device, batches, warmup: int, run) -> float:
    """Seconds for the batches after the first ``warmup`` (each passed to ``run``), synchronised at both ends."""
    t0 = None
    for n, batch in enumerate(batches):
        if n == warmup:
            sync(device)
            t0 = time.perf_counter()
        run(batch)
    sync(device)
    return time.perf_counter() - t0


def trainer(index: pd.DataFrame, modality: str, batch: int, decode: str, args, p: dict, steps: int) -> Trainer:
    config = checkpoint.stream_config(modality, p["depth"], CLASSES, 0.5, 5)
    net = checkpoint.build_stream(config)
    data = TSNDataset(index, (modality,), segments=args.segments, length=5, crop=p["crop"], train=True,
                      seed=0, decode=decode)
    sched = Schedule(steps=steps, lr=0.01, batch_size=batch, milestones=[], plateau_patience=0, momentum=0.9,
                     weight_decay=5e-4, clip_grad=0.0, workers=p["workers"], checkpoint_every=0,
                     precision=args.precision, compile=args.compile, prefetch=args.prefetch)
    return Trainer(net, list(net.parameters()), data, sched, seed=0, resume=args.scratch / "unused.resume",
                   run_id="benchmark", device=args.dev)


def train_rates(index, modality: str, batch: int, decodes: list[str], args, p: dict) -> list[dict]:
    steps = p["warmup"] + p["steps"]
    clips = batch * p["steps"]
    step = stream_step(modality)
    t = trainer(index, modality, batch, decodes[0], args, p, steps)
    ready = t.move(next(iter(t.loader())), args.dev)  # one batch on the device, reused
    t.model.train()
    step_s = timed(args.dev, [ready] * steps, p["warmup"], lambda b: t.train_step(step, b))
    rows = []
    for decode in decodes:
        t = trainer(index, modality, batch, decode, args, p, steps)
        loader_s = timed(args.dev, t.loader(), p["warmup"], lambda b: t.move(b, args.dev))
        t.model.train()
        both_s = timed(args.dev, t.loader(), p["warmup"], lambda b: t.train_step(step, t.move(b, args.dev)))
        rows.append({"stream": modality, "batch": batch, "decode": decode, "precision": t.precision,
                     "step_clips_s": clips / step_s, "loader_clips_s": clips / loader_s,
                     "both_clips_s": clips / both_s})
    return rows


def eval_rate(index, modality: str, decode: str, args, p: dict) -> dict:
    config = checkpoint.stream_config(modality, p["depth"], CLASSES, 0.5, 5)
    ckpt = {"kind": "stream", "config": config, "state_dict": checkpoint.build_stream(config).state_dict()}
    modalities, score = checkpoint_scorer(ckpt, args.dev)
    kw = dict(batch_size=1, workers=p["workers"], precision=args.precision)

    def dataset(rows: slice) -> TSNDataset:
        return TSNDataset(index.iloc[rows].reset_index(drop=True), modalities, segments=args.eval_segments, length=5,
                          crop=p["crop"], train=False, crops=args.eval_crops, decode=decode)

    predict(score, dataset(slice(0, 1)), modalities, args.dev, **kw)  # warm-up (cuDNN autotuning)
    data = dataset(slice(1, p["eval_videos"] + 1))
    sync(args.dev)
    t0 = time.perf_counter()
    predict(score, data, modalities, args.dev, **kw)
    sync(args.dev)
    n = len(data)
    return {"stream": modality, "decode": decode, "segments": args.eval_segments, "crops": args.eval_crops,
            "videos_s": n / (time.perf_counter() - t0)}


def decode_agreement(index: pd.DataFrame, args, p: dict) -> dict[str, int]:
    """Largest |difference| between device-decoded and CPU-path batches (training views of 8 videos), per modality."""
    out = {}
    for modality in ("rgb", "flow"):
        batches = []
        for decode in ("cpu", "gpu"):
            data = TSNDataset(index.iloc[:8].reset_index(drop=True), (modality,), segments=args.segments, length=5,
                              crop=p["crop"], train=True, seed=0, decode=decode)
            batches.append(data.to_device(data.collate([data[i] for i in range(len(data))]), args.dev)[modality])
        out[modality] = int((batches[0].int() - batches[1].int()).abs().max())
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N")
    ap.add_argument("--smoke", action="store_true", help="tiny sizes, seconds (run by the test suite)")
    ap.add_argument("--precision", default="auto", help="auto (bf16 on CUDA, fp32 on CPU) | bf16 | fp16 | fp32")
    ap.add_argument("--compile", action="store_true", help="torch.compile the network (train.compile)")
    ap.add_argument("--prefetch", type=int, default=2)
    ap.add_argument("--segments", type=int, default=3, help="TSN segments per training clip (K)")
    ap.add_argument("--eval-segments", type=int, help="test segments (default 25; smoke: 5)")
    ap.add_argument("--eval-crops", type=int, default=10)
    ap.add_argument("--depth", type=int, help="ResNet depth (default: the preset's)")
    ap.add_argument("--batch-sizes", type=int, nargs="+", help="default: the preset's")
    ap.add_argument("--workers", type=int, help="loader workers (default: the preset's)")
    ap.add_argument("--decode", nargs="+", choices=("cpu", "gpu"), help="decode paths (default: the preset's)")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    ap.add_argument("--out", type=Path, help="JSON results (default benchmarks/out/train_<device>.json)")
    args = ap.parse_args()
    args.dev = torch.device(args.device)
    if args.dev.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: torch sees no GPU")
    if args.threads:
        torch.set_num_threads(args.threads)
    p = dict(PRESETS["smoke" if args.smoke else args.dev.type])
    for key in ("depth", "batch_sizes", "workers", "decode"):
        if getattr(args, key) is not None:
            p[key] = getattr(args, key)
    if args.eval_segments is None:
        args.eval_segments = p.get("eval_segments", 25)
    if p.get("threads") and not args.threads:
        torch.set_num_threads(p["threads"])
    out = args.out or REPO / "benchmarks" / "out" / f"train_{'smoke' if args.smoke else args.dev.type}.json"
    torch.manual_seed(0)
    args.scratch = Path(tempfile.mkdtemp(prefix="twostream-train-bench-"))
    try:
        rows_needed = max(p["batch_sizes"]) * (p["warmup"] + p["steps"]) + 1
        index = make_shards(args.scratch, p["size"], max(rows_needed, p["eval_videos"] + 1))
        agreement = decode_agreement(index, args, p) if "gpu" in p["decode"] else {}
        if agreement:
            print(f"gpu decode vs cpu path, max |difference|: {agreement}", flush=True)
        train, evaluation = [], []
        for modality in ("rgb", "flow"):
            for batch in p["batch_sizes"]:
                train += train_rates(index, modality, batch, p["decode"], args, p)
                for r in train[-len(p["decode"]):]:
                    print(f"train {r['stream']:4} B={r['batch']:<4} decode={r['decode']}: step {r['step_clips_s']:8.1f}"
                          f"  loader {r['loader_clips_s']:8.1f}  both {r['both_clips_s']:8.1f} clips/s", flush=True)
            for decode in p["decode"]:
                evaluation.append(eval_rate(index, modality, decode, args, p))
                e = evaluation[-1]
                print(f"eval  {modality:4} {e['segments']}x{e['crops']} decode={decode}: {e['videos_s']:.2f} videos/s",
                      flush=True)
    finally:
        shutil.rmtree(args.scratch, ignore_errors=True)
    result = {
        "device": torch.cuda.get_device_name(args.dev) if args.dev.type == "cuda" else platform.processor() or "cpu",
        "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
        "smoke": args.smoke, "frames": p["size"], "depth": p["depth"], "crop": p["crop"], "segments": args.segments,
        "workers": p["workers"], "prefetch": args.prefetch, "compile": args.compile, "steps": p["steps"],
        "warmup": p["warmup"], "goals": GOALS, "train": train, "eval": evaluation,
        "decode_max_abs_diff": agreement,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    tmp.replace(out)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
