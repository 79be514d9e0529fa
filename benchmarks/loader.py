"""Loader throughput and bytes per video: HDF5 shards (TSNDataset) against JPEG rawframes.

Writes the same videos in both layouts (the real clips under <repo>/../shared/data/clips,
resized to 256x340 and repeated under different ids; ``--smoke``: two tiny generated videos),
then measures TSN training clips per second through a torch DataLoader (K=3 snippets: 3 RGB
frames + 3 stacks of 5 flow fields = 33 JPEG decodes per clip, one random crop and flip
shared by the clip) and CPU ms per clip (this process and its joined workers), and the bytes
on disk of each layout. Prints the numbers and writes them as JSON; docs/loader.md reports them.

    python benchmarks/loader.py [--videos 32] [--batches 20] [--batch-size 16] [--workers 0 2]
        [--repeat 3] [--cold] [--clips DIR] [--out benchmarks/out/loader.json]
    python benchmarks/loader.py --smoke [--out PATH]

Loaders:
  shards         ``TSNDataset`` exactly as training builds it;
  rawframes      TSN-pytorch style: ``PIL.Image.open(...).convert()`` per file, PIL crop and
                 flip, ``ImageOps.invert`` of flipped flow-x, then stacked;
  rawframes-cv2  ``TSNDataset``'s own decode, crop, flip and stacking on the rawframes files
                 (only the file reads differ from ``shards``), which isolates the layout.
All three draw the same snippets, crop and flip (same rng stream) and stop at uint8; the RGB
of ``shards`` and ``rawframes-cv2`` is checked to be identical (same JPEG bytes and decoder).

Flow: TV-L1 (the pipeline's opencv-cpu backend, bound 20) of the first ``--flow-pairs`` frame
pairs of each clip, cycled over the video: loader speed depends on the bytes of the flow JPEGs,
not on which frames they belong to. Rawframes quantise flow as dense_flow does.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import torch
from PIL import Image, ImageOps
from torch.utils.data import DataLoader, Dataset, RandomSampler

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from twostream.data import sampling, transforms  # noqa: E402
from twostream.data.dataset import TSNDataset  # noqa: E402
from twostream.data.shards import IMREAD_COLOR_RGB, quantize_flow, write_shard  # noqa: E402
from twostream.data.video import read_frames  # noqa: E402
from twostream.flow import get_backend, normalize  # noqa: E402

BOUND = 20.0  # the pipeline's default flow bound, also dense_flow's
QUALITY = 90  # the pipeline's default JPEG quality (dense_flow itself writes 95)
SEGMENTS, LENGTH = 3, 5


# ----------------------------------------------------------------------------- data

def clip_frames(clips: Path, size: tuple[int, int], max_frames: int) -> list[tuple[str, np.ndarray]]:
    """(name, BGR frames) of every real clip under ``clips``."""
    paths = sorted(p for p in clips.rglob("*") if p.suffix.lower() in (".avi", ".mp4"))
    if not paths:
        raise SystemExit(f"no clips under {clips} (give --clips DIR, or run --smoke)")
    return [(p.stem, read_frames(p, size)[:max_frames]) for p in paths]


def tiny_frames(size: tuple[int, int], frames: int) -> list[tuple[str, np.ndarray]]:
    """Two generated videos (a textured background and a moving square), for --smoke."""
    rng = np.random.default_rng(0)
    out = []
    for v in range(2):
        background = rng.integers(0, 256, (*size, 3), np.uint8)
        video = np.repeat(background[None], frames, 0)
        for t in range(frames):
            y, x = 4 + t, 4 + (1 + v) * t
            video[t, y:y + 12, x:x + 12] = (40 + 100 * v, 200, 90)
        out.append((f"tiny{v}", video))
    return out


def dense_flow_quantize(flow: np.ndarray, bound: float) -> np.ndarray:
    """dense_flow's convertFlowToImage: round(255 (f + bound) / (2 bound)), clipped to 0..255."""
    return np.clip(np.rint(255.0 * (flow + bound) / (2 * bound)), 0, 255).astype(np.uint8)


def imwrite(path: Path, img: np.ndarray) -> None:
    if not cv2.imwrite(str(path), img, [cv2.IMWRITE_JPEG_QUALITY, QUALITY]):
        raise OSError(f"{path}: JPEG encoding failed")


def build(scratch: Path, sources: list[tuple[str, np.ndarray]], videos: int, pairs: int) -> pd.DataFrame:
    """Write ``videos`` videos (cycling ``sources``) as shards and as rawframes; returns the index."""
    backend = get_backend("opencv-cpu")
    fields = {}
    for name, frames in sources:
        grey = np.stack([cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in frames[:pairs + 1]])
        t0 = time.perf_counter()
        flow = backend.compute(grey[:-1], grey[1:])
        print(f"TV-L1 for {len(flow)} pairs of {name}: {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        fields[name] = flow[np.arange(len(frames) - 1) % len(flow)]
    rows = []
    for v in range(videos):
        label = v % len(sources)
        name, frames = sources[label]
        vid = f"{name}-{v // len(sources):02d}"
        shard = scratch / "shards" / f"{vid}.h5"
        shard.parent.mkdir(parents=True, exist_ok=True)
        attrs = {"video_id": vid, "label": label, "class_name": name, "fps": 25.0, "source": name,
                 "flow_backend": "opencv-cpu", "flow_params": backend.params(), "flow_bound": BOUND}
        write_shard(shard, frames, quantize_flow(normalize(fields[name], BOUND)), attrs, QUALITY)
        d = scratch / "rawframes" / vid
        d.mkdir(parents=True, exist_ok=True)
        q = dense_flow_quantize(fields[name], BOUND)
        for t, img in enumerate(frames):  # the same encoder and quality as the shards (cv2, libjpeg-turbo)
            imwrite(d / f"img_{t + 1:05d}.jpg", img)
        for t in range(len(q)):
            imwrite(d / f"flow_x_{t + 1:05d}.jpg", q[t, :, :, 0])
            imwrite(d / f"flow_y_{t + 1:05d}.jpg", q[t, :, :, 1])
        rows.append({"video_id": vid, "shard": str(shard), "dir": str(d), "label": label, "frames": len(frames)})
    return pd.DataFrame(rows)


def layout_files(index: pd.DataFrame) -> dict[str, list[str]]:
    return {"shards": list(index["shard"]),
            "rawframes": [os.path.join(d, f) for d in index["dir"] for f in sorted(os.listdir(d))]}


def layout_bytes(index: pd.DataFrame, files: dict[str, list[str]]) -> dict:
    """Files, apparent bytes and allocated bytes (4 KiB blocks, directories included) per video and frame."""
    n, frames = len(index), int(index["frames"].sum())
    out = {}
    for name, paths in files.items():
        stats = [os.stat(p) for p in paths]
        size = sum(s.st_size for s in stats)
        allocated = sum(s.st_blocks * 512 for s in stats)
        if name == "rawframes":
            allocated += sum(os.stat(d).st_blocks * 512 for d in index["dir"])
        out[name] = {"files": len(paths), "bytes_per_video": size / n, "bytes_per_frame": size / frames,
                     "allocated_per_video": allocated / n, "allocated_per_frame": allocated / frames}
    return out


# ----------------------------------------------------------------------------- loaders

class RawFramesPIL(Dataset):
    """TSN-pytorch style rawframes loading, with TSNDataset's sampling, crop box and flip draw."""

    def __init__(self, index: pd.DataFrame, crop: int):
        self.dirs, self.frames = index["dir"].tolist(), index["frames"].astype(int).tolist()
        self.labels = index["label"].astype(int).tolist()
        self.crop, self.seed, self.epoch = crop, 0, 0

    def __len__(self) -> int:
        return len(self.dirs)

    def __getitem__(self, i: int) -> dict:
        d, frames = self.dirs[i], self.frames[i]
        rng = np.random.default_rng([self.seed, self.epoch, i])
        offsets = sampling.train_offsets(sampling.positions(frames, LENGTH), SEGMENTS, rng)
        rgb = [Image.open(os.path.join(d, f"img_{int(t) + 1:05d}.jpg")).convert("RGB") for t in offsets]
        flow = [Image.open(os.path.join(d, f"flow_{c}_{min(k, frames - 2) + 1:05d}.jpg")).convert("L")
                for t in offsets for k in range(int(t), int(t) + LENGTH) for c in "xy"]
        w, h = rgb[0].size
        top, left = transforms.random_crop_box(h, w, self.crop, rng)
        box = (left, top, left + self.crop, top + self.crop)
        rgb, flow = [im.crop(box) for im in rgb], [im.crop(box) for im in flow]
        if rng.random() < 0.5:
            rgb = [im.transpose(Image.Transpose.FLIP_LEFT_RIGHT) for im in rgb]
            flow = [im.transpose(Image.Transpose.FLIP_LEFT_RIGHT) for im in flow]
            flow[0::2] = [ImageOps.invert(im) for im in flow[0::2]]
        stacked = np.stack([np.asarray(im) for im in flow], -1).reshape(self.crop, self.crop, SEGMENTS, -1)
        return {"label": self.labels[i], "index": i, "rgb": torch.from_numpy(np.stack([np.asarray(im) for im in rgb])),
                "flow": torch.from_numpy(np.ascontiguousarray(stacked.transpose(2, 0, 1, 3)))}


def _imread(path: str, flags: int) -> np.ndarray:
    with open(path, "rb") as f:
        return cv2.imdecode(np.frombuffer(f.read(), np.uint8), flags)


class RawFolder:
    """One video's rawframes folder behind the read interface TSNDataset uses of a Shard."""

    def __init__(self, folder: str, frames: int, size: tuple[int, int]):
        self.folder, self.frames, self.size = folder, frames, size

    def rgb(self, t: int) -> np.ndarray:
        path = os.path.join(self.folder, f"img_{t + 1:05d}.jpg")
        if IMREAD_COLOR_RGB is not None:
            return _imread(path, IMREAD_COLOR_RGB)
        return cv2.cvtColor(_imread(path, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)

    def flow_planes(self, t: int, length: int) -> list[np.ndarray]:
        last = self.frames - 2
        return [_imread(os.path.join(self.folder, f"flow_{c}_{min(k, last) + 1:05d}.jpg"), cv2.IMREAD_GRAYSCALE)
                for k in range(t, t + length) for c in "xy"]


class RawFolders:
    """Stands in for TSNDataset's ShardCache: the folder of a video (the ``shard`` column holds folders)."""

    def __init__(self, index: pd.DataFrame, size: tuple[int, int]):
        self.folders = {d: RawFolder(d, int(n), size) for d, n in zip(index["dir"], index["frames"])}

    def get(self, folder: str) -> RawFolder:
        return self.folders[folder]


def rawframes_cv2(index: pd.DataFrame, crop: int, size: tuple[int, int]) -> TSNDataset:
    """TSNDataset's own decoding, crop, flip and stacking, reading rawframes files instead of shards."""
    dataset = TSNDataset(index.assign(shard=index["dir"]), segments=SEGMENTS, length=LENGTH, crop=crop, decode="cpu")
    dataset.cache = RawFolders(index, size)
    return dataset


def loaders(index: pd.DataFrame, crop: int, size: tuple[int, int]) -> dict[str, Dataset]:
    return {"shards": TSNDataset(index, segments=SEGMENTS, length=LENGTH, crop=crop, decode="cpu"),
            "rawframes": RawFramesPIL(index, crop),
            "rawframes-cv2": rawframes_cv2(index, crop, size)}


def check_same_clips(datasets: dict[str, Dataset]) -> None:
    """Every loader yields the same shapes; shards and rawframes-cv2 the same RGB crops."""
    for i in range(len(datasets["shards"])):
        items = {name: ds[i] for name, ds in datasets.items()}
        shapes = {name: (tuple(x["rgb"].shape), tuple(x["flow"].shape)) for name, x in items.items()}
        if len(set(shapes.values())) != 1:
            raise AssertionError(f"video {i}: loaders disagree on shapes {shapes}")
        if not torch.equal(items["shards"]["rgb"], items["rawframes-cv2"]["rgb"]):
            raise AssertionError(f"video {i}: shards and rawframes-cv2 RGB crops differ")


# ----------------------------------------------------------------------------- measuring

def _cpu_s() -> float:
    return sum(getattr(resource.getrusage(who), f) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
               for f in ("ru_utime", "ru_stime"))


def run_loader(dataset: Dataset, workers: int, batches: int, batch_size: int, seed: int) -> dict:
    """Clips/s from creating the iterator to the last batch (worker start-up included); CPU ms per clip of this
    process plus its workers (joined at the end of the iteration, so their time is in RUSAGE_CHILDREN)."""
    sampler = RandomSampler(dataset, num_samples=batches * batch_size, generator=torch.Generator().manual_seed(seed))
    loader = DataLoader(dataset, batch_size=batch_size, sampler=sampler, num_workers=workers, drop_last=True)
    cpu0, t0 = _cpu_s(), time.perf_counter()
    clips = sum(len(batch["label"]) for batch in loader)
    seconds = time.perf_counter() - t0
    return {"clips_per_s": clips / seconds, "cpu_ms_per_clip": (_cpu_s() - cpu0) / clips * 1e3}


def evict(paths: list[str]) -> None:
    """Drop files from the page cache (posix_fadvise DONTNEED; needs no root)."""
    os.sync()
    for p in paths:
        fd = os.open(p, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def warm(paths: list[str]) -> None:
    for p in paths:
        with open(p, "rb") as f:
            f.read()


def measure(datasets: dict[str, Dataset], files: dict[str, list[str]], args: argparse.Namespace) -> dict:
    """Medians over ``args.repeat`` interleaved runs per (loader, workers); with ``--cold``, one cold pass each."""
    warm(files["shards"] + files["rawframes"])
    runs: dict[str, dict[str, list[dict]]] = {name: {str(w): [] for w in args.workers} for name in datasets}
    for r in range(args.repeat):
        for w in args.workers:
            for name, ds in datasets.items():
                res = run_loader(ds, w, args.batches, args.batch_size, seed=r)
                runs[name][str(w)].append(res)
                print(f"  run {r} {name:14s} workers={w}: {res['clips_per_s']:6.1f} clips/s, "
                      f"{res['cpu_ms_per_clip']:5.1f} CPU ms/clip", file=sys.stderr)
    out = {name: {w: {key: statistics.median(x[key] for x in rs) for key in ("clips_per_s", "cpu_ms_per_clip")}
                  | {"runs": rs} for w, rs in by_w.items()} for name, by_w in runs.items()}
    result = {"warm": out}
    if args.cold:
        cold = {}
        for name, ds in datasets.items():
            layout = "shards" if name == "shards" else "rawframes"
            evict(files[layout])
            cold[name] = run_loader(ds, max(args.workers), len(ds) // args.batch_size, args.batch_size, seed=0)
        result["cold"] = cold
    return result


# ----------------------------------------------------------------------------- main

def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--smoke", action="store_true", help="two tiny generated videos, one short run (for the tests)")
    p.add_argument("--clips", type=Path, default=REPO.parent / "shared" / "data" / "clips")
    p.add_argument("--videos", type=int, default=32, help="videos per layout (the clips repeated under new ids)")
    p.add_argument("--max-frames", type=int, default=96, help="frames per video (the clips' first ones)")
    p.add_argument("--flow-pairs", type=int, default=12, help="frame pairs of TV-L1 flow per clip, cycled")
    p.add_argument("--batches", type=int, default=20, help="batches per DataLoader run")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    p.add_argument("--repeat", type=int, default=3, help="runs per configuration (medians are reported)")
    p.add_argument("--cold", action="store_true", help="also one cold-page-cache pass per loader")
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "out" / "loader.json")
    args = p.parse_args(argv)
    if args.smoke:
        args.videos, args.flow_pairs, args.batches, args.batch_size, args.workers, args.repeat = 4, 3, 2, 2, [0], 1
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(1)  # the main process collates when workers=0; workers use 1 thread anyway
    size, crop = ((64, 80), 48) if args.smoke else ((256, 340), 224)
    sources = tiny_frames(size, 10) if args.smoke else clip_frames(args.clips, size, args.max_frames)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="loader-") as scratch:
        index = build(Path(scratch), sources, args.videos, args.flow_pairs)
        files = layout_files(index)
        datasets = loaders(index, crop, size)
        check_same_clips(datasets)
        result = {"videos": len(index), "frames": int(index["frames"].sum()), "size": size, "crop": crop,
                  "segments": SEGMENTS, "length": LENGTH, "jpeg_quality": QUALITY,
                  "bytes": layout_bytes(index, files), **measure(datasets, files, args),
                  "loadavg": os.getloadavg(), "cpus": os.cpu_count(), "opencv": cv2.__version__,
                  "torch": torch.__version__, "args": {k: str(v) for k, v in vars(args).items()}}
    result["seconds"] = time.perf_counter() - started
    report(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


def report(result: dict) -> None:
    print(f"{result['videos']} videos, {result['frames']} frames of {result['size'][0]}x{result['size'][1]}, "
          f"{result['crop']} crops, JPEG q{result['jpeg_quality']}; load average {result['loadavg'][0]:.1f} "
          f"on {result['cpus']} CPUs")
    for name, b in result["bytes"].items():
        print(f"  {name:10s} {b['files']:6d} files  {b['bytes_per_video'] / 1e6:7.3f} MB/video  "
              f"{b['bytes_per_frame'] / 1e3:6.2f} kB/frame  (allocated {b['allocated_per_frame'] / 1e3:6.2f} kB/frame)")
    print("clips/s (CPU ms per clip), medians:")
    for name, by_w in result["warm"].items():
        print(f"  {name:14s} " + "  ".join(f"workers={w}: {v['clips_per_s']:6.1f} ({v['cpu_ms_per_clip']:5.1f})"
                                          for w, v in by_w.items()))
    for w, v in result["warm"]["shards"].items():
        print(f"  shards / rawframes, workers={w}: {v['clips_per_s'] / result['warm']['rawframes'][w]['clips_per_s']:.2f}x")
    for name, v in result.get("cold", {}).items():
        print(f"  cold {name:14s} {v['clips_per_s']:6.1f} clips/s ({v['cpu_ms_per_clip']:5.1f} CPU ms/clip)")


if __name__ == "__main__":
    sys.exit(main())
