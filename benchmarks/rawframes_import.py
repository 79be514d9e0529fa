"""Import throughput (rawframes folders -> shards) against extraction's (videos -> TV-L1 -> shards), same clips.

    python benchmarks/rawframes_import.py [--clips DIR] [--size 128 171] [--backend auto] [--threads 1]
        [--repeat 3] [--out benchmarks/out/rawframes_import.json]
    python benchmarks/rawframes_import.py --smoke [--out PATH]

1. extract: ``extract_chunk`` (the ``twostream extract`` job) on every clip under ``--clips`` (the real
   clips of <repo>/../shared/data/clips; ``--smoke``: two generated 48x64 videos), at ``--size``, with
   ``--backend`` (auto: the pipeline's default CPU choice) and ``--threads`` threads: frames/s;
2. export those shards as denseflow rawframes (``twostream rawframes --from-shards``: JPEGs copied);
3. import: ``import_chunk`` (the ``twostream import`` job) of those folders into new shards, ``--repeat``
   times, warm (files in the page cache, as just written) and cold (each file's cached pages dropped
   first with ``posix_fadvise(DONTNEED)``): frames/s; the imported frames are checked to be byte for byte
   the extracted ones.

Prints the numbers and the ratio import / extract and writes them as JSON (goal: import >= 20x extract).
Timings are wall-clock on this machine as it is loaded: on a shared machine, time it when nothing else runs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from twostream.data.extract import extract_chunk  # noqa: E402
from twostream.data.rawframes.export import export  # noqa: E402
from twostream.data.rawframes.importer import Source, import_chunk  # noqa: E402
from twostream.data.rawframes.sources import Video  # noqa: E402
from twostream.data.rawframes.templates import detect, listing  # noqa: E402
from twostream.data.shards import Shard  # noqa: E402
from twostream.data.video import probe  # noqa: E402
from twostream.files import write_text  # noqa: E402
from twostream.flow import get_backend  # noqa: E402
from twostream.specs import schema_default  # noqa: E402

BOUND = 20.0  # config.yaml's flow.bound, denseflow's and mmaction2's
QUALITY, LENGTH = schema_default("flow.jpeg_quality"), schema_default("train.length")
CLIPS = REPO.parent / "shared" / "data" / "clips"


def manifest(clips: list[Path]) -> pd.DataFrame:
    rows = []
    for i, path in enumerate(clips):
        info = probe(path)
        rows.append({"video_id": f"{path.parent.name}/{path.stem}", "path": str(path), "label": i,
                     "class_name": path.parent.name, "fps": info.fps, "frames": info.frames})
    return pd.DataFrame(rows)


def smoke_clips(folder: Path) -> list[Path]:
    """Two generated FFV1 videos of a moving texture (12 frames, 48x64)."""
    rng = np.random.default_rng(0)
    out = []
    for v in range(2):
        base = cv2.GaussianBlur((rng.random((48, 64, 3)) * 255).astype(np.uint8), (0, 0), 2)
        path = folder / f"C{v}" / f"tiny{v}.avi"
        path.parent.mkdir(parents=True)
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"FFV1"), 25, (64, 48))
        for t in range(12):
            writer.write(np.roll(base, (v + 1) * t, axis=1))
        writer.release()
        out.append(path)
    return out


def drop_cache(folder: Path) -> None:
    """Evict a tree's files from the page cache (clean pages only: they were synced)."""
    for d, _, files in os.walk(folder):
        for f in files:
            fd = os.open(os.path.join(d, f), os.O_RDONLY)
            try:
                os.fdatasync(fd)
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


def timed_import(rows: pd.DataFrame, out: Path, source: Source) -> tuple[float, pd.DataFrame]:
    for old in out.glob("*.h5"):
        old.unlink()  # a kept shard would skip the work
    start = time.perf_counter()
    index = import_chunk(rows, out, source, bound=BOUND, quality=QUALITY, length=LENGTH)
    return time.perf_counter() - start, index


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=Path, default=CLIPS)
    parser.add_argument("--size", type=int, nargs=2, default=[128, 171], metavar=("H", "W"))
    parser.add_argument("--backend", default="auto", help="flow backend of the extraction (auto: the pipeline's)")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (torch, OpenCV) and decoding processes")
    parser.add_argument("--repeat", type=int, default=3, help="imports timed (each warm and cold); the median is kept")
    parser.add_argument("--smoke", action="store_true", help="two generated videos at 48x64, opencv-cpu, one repeat")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "out" / "rawframes_import.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        if args.smoke:
            clips, size, backend_name, repeat = smoke_clips(scratch / "clips"), (48, 64), "opencv-cpu", 1
        else:
            clips = sorted(p for p in args.clips.rglob("*") if p.suffix.lower() in (".avi", ".mp4"))
            size, backend_name, repeat = tuple(args.size), args.backend, args.repeat
        if not clips:
            raise SystemExit(f"no clips under {args.clips} (give --clips DIR, or run --smoke)")
        rows = manifest(clips)
        backend = get_backend(backend_name, "cpu", schema_default("flow.variant"))
        start = time.perf_counter()
        extracted = extract_chunk(rows, backend, scratch / "extracted", size=size, bound=BOUND, quality=QUALITY,
                                  length=LENGTH, workers=args.threads, encoders=args.threads)
        extract_s = time.perf_counter() - start
        ok = extracted[extracted["status"] == "ok"]
        frames = int(ok["frames"].sum())

        videos = [Video(r.video_id.split("/")[1], r.shard, 0, r.video_id.split("/")[0]) for r in ok.itertuples()]
        export(videos, scratch / "rawframes")
        folders = [scratch / "rawframes" / v.video_id for v in videos]
        source = Source(detect([listing(f) for f in folders]), "twostream", BOUND)
        import_rows = rows.set_index("video_id").loc[ok["video_id"]].reset_index().assign(
            path=[str(f) for f in folders], fps=0.0)
        warm, cold = [], []
        for _ in range(repeat):
            drop_cache(scratch / "rawframes")
            seconds, index = timed_import(import_rows, scratch / "imported", source)
            cold.append(seconds)
            seconds, index = timed_import(import_rows, scratch / "imported", source)
            warm.append(seconds)
        assert (index["status"] == "ok").all() and int(index["frames"].sum()) == frames, index
        for ref, got in zip(ok["shard"], index["shard"]):
            with Shard(ref) as a, Shard(got) as b:
                assert all(a.rgb_bytes(t).tobytes() == b.rgb_bytes(t).tobytes() for t in range(a.frames)), got
        nbytes = sum(f.stat().st_size for f in (scratch / "rawframes").rglob("*.jpg"))
    result = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "threads": args.threads,
                    "load_avg": os.getloadavg()},
        "clips": len(clips), "videos": len(ok), "frames": frames, "size": list(size), "backend": backend.name,
        "rawframes_bytes": nbytes,
        "extract": {"seconds": extract_s, "frames_per_s": frames / extract_s},
        "import_warm": {"seconds": statistics.median(warm), "frames_per_s": frames / statistics.median(warm)},
        "import_cold": {"seconds": statistics.median(cold), "frames_per_s": frames / statistics.median(cold)},
    }
    result["ratio_warm"] = result["import_warm"]["frames_per_s"] / result["extract"]["frames_per_s"]
    result["ratio_cold"] = result["import_cold"]["frames_per_s"] / result["extract"]["frames_per_s"]
    write_text(json.dumps(result, indent=2) + "\n", args.out)
    print(f"{len(ok)} videos, {frames} frames at {size[0]}x{size[1]} ({nbytes / 2**20:.1f} MiB of rawframes)")
    print(f"extract ({backend.name}, {args.threads} thread(s)): {result['extract']['frames_per_s']:.1f} frames/s")
    for kind in ("warm", "cold"):
        print(f"import ({kind} cache): {result[f'import_{kind}']['frames_per_s']:.1f} frames/s, "
              f"{result[f'ratio_{kind}']:.0f}x extract")
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
