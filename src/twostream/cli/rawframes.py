"""``twostream rawframes``: frames and TV-L1 flow as denseflow-style JPEG folders, with mmaction2 file lists.

Videos come from INPUTs (video files, folders searched recursively, ``.txt`` lists of video paths), from a
pipeline manifest (``--manifest``), from a dataset's official split files (``--kind`` with the
video root as INPUT, parsed by ``twostream ingest``'s code), or from existing shards (``--from-shards``
with a shard index: the stored JPEGs are copied, no flow is recomputed). The layout and the mapping are
described in ``twostream.data.rawframes`` (and how mmaction2 reads it in docs/rawframes.md). Run it again to
resume: finished videos are kept.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from twostream.data.ingest import KINDS, IngestError, ingest, read_manifest
from twostream.data.rawframes import export, lists, sources
from twostream.data.rawframes.naming import RawframesError
from twostream.data.rawframes.resize import Resize
from twostream.data.rawframes.writer import Settings
from twostream.files import write_csv
from twostream.specs import schema_default


EXAMPLES = """examples:
  twostream rawframes clips/ more.mp4 videos.txt --out rawframes       # files, folder trees, lists
  twostream rawframes UCF-101/ --kind ucf101 --splits-dir ucfTrainTestlist --new-width 340 --new-height 256 \\
      --out rawframes                                                   # + train/val lists per split
  twostream rawframes --from-shards results/ucf101/256x340-<key>/shards.csv --out rawframes  # the shards' JPEGs
  twostream rawframes --from-shards INDEX --two-level --out rawframes  # Class/video folders, as mmaction2 lists"""

def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("inputs", nargs="*", metavar="INPUT",
                   help="video files, folders of videos (recursive), .txt lists of video paths "
                        "(with --kind: the video root)")
    p.add_argument("--out", required=True, help="output folder: one sub-folder per video")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--manifest", help="a manifest CSV written by `twostream ingest` (labels and splits)")
    src.add_argument("--kind", choices=KINDS, help="read the official split files of this dataset kind")
    src.add_argument("--from-shards", metavar="INDEX",
                     help="shard index CSV: copy the shards' JPEGs, no flow recomputed")
    p.add_argument("--splits-dir", help="official split folder (--kind ucf101 or hmdb51)")
    p.add_argument("--annotations", nargs="+", metavar="CSV",
                   help="official annotation CSVs (--kind kinetics400)")
    p.add_argument("--seed", type=int, help="seed of the train/test draw (needed by --kind folder)")
    p.add_argument("--test-fraction", type=float, help="test share per class (needed by --kind folder)")
    p.add_argument("--lists", help="folder for the file lists and failures (default: --out)")
    p.add_argument("--two-level", action="store_true",
                   help="folders OUT/<Class>/<id>, listed as Class/id (as mmaction2's UCF-101 and HMDB-51 lists)")
    p.add_argument("--name", help="file-list name prefix (default: the dataset kind, else 'videos')")
    p.add_argument("--backend", default="auto", help="flow backend: auto, torch, opencv-cuda, opencv-cpu")
    p.add_argument("--device", default=schema_default("flow.device"), help="auto, cpu, cuda or cuda:N (default %(default)s)")
    p.add_argument("--variant", default=schema_default("flow.variant"), choices=("cpu", "cuda"),
                   help="torch backend: the OpenCV class it follows (default %(default)s, as flow.variant)")
    p.add_argument("--workers", type=int, default=1, help="decoding processes (step 1; 0: decode in this process)")
    p.add_argument("--batch-pairs", type=int, default=0,
                   help="frame pairs per flow batch, across videos (step 1; 0: the pipeline's choice)")
    p.add_argument("--threads", type=int, default=0, help="OpenCV / torch CPU threads (0: the libraries' default)")
    p.add_argument("-b", "--bound", type=float, default=20.0,
                   help="flow clipped to +-bound pixels (mmaction2's build_rawframes.py passes 20 to denseflow)")
    p.add_argument("-s", "--step", type=int, default=1,
                   help="flow from frame t to t+step (denseflow's -s; 0: frames only, negative: backward)")
    p.add_argument("--quality", type=int, default=95, help="JPEG quality (95: OpenCV's and so denseflow's default)")
    p.add_argument("--new-width", type=int, default=0, help="resize width (denseflow --newWidth; 0: unset)")
    p.add_argument("--new-height", type=int, default=0, help="resize height (denseflow --newHeight; 0: unset)")
    p.add_argument("--new-short", type=int, default=0,
                   help="shrink the short side to this, keeping the aspect ratio (denseflow --newShort; 0: unset)")


def _error(message: str) -> int:
    print(f"twostream rawframes: error: {message}", file=sys.stderr)
    return 2


def _dataset(args: argparse.Namespace) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(manifest, ingest failures) from --manifest or --kind."""
    if args.manifest:
        return read_manifest(args.manifest), export.failures_table()
    if len(args.inputs) != 1:
        raise IngestError("--kind takes exactly one INPUT: the folder holding the videos")
    return ingest(args.kind, args.inputs[0], splits_dir=args.splits_dir, annotations=args.annotations,
                  seed=args.seed, test_fraction=args.test_fraction)


def _sources(args: argparse.Namespace) -> tuple[list[sources.Video], pd.DataFrame | None, list[str], pd.DataFrame]:
    """(videos, split table by video id or None, class names by label, earlier failures)."""
    if not args.from_shards and not args.manifest and not args.kind:
        if not args.inputs:
            raise IngestError("give INPUTs, --manifest, --kind or --from-shards")
        failures: list[tuple[str, str, str]] = []
        videos = sources.find_videos(args.inputs, failures)
        classes = sorted({v.class_name for v in videos})
        return videos, None, classes, export.failures_table(failures)
    if args.from_shards:
        if args.inputs:
            raise IngestError("--from-shards takes no INPUT")
        table, source = pd.read_csv(args.from_shards, keep_default_na=False), "shard"
        earlier = export.failures_table()
    else:
        (table, earlier), source = _dataset(args), "path"
    splits = table.set_index("video_id")[[c for c in table.columns if c.startswith("split")]]
    classes = table.drop_duplicates("label").sort_values("label")
    names = dict(zip(classes["label"], classes["class_name"]))
    return (sources.videos_from_table(table, source), splits,
            [names.get(i, "") for i in range(int(table["label"].max()) + 1 if len(table) else 0)], earlier)


def run(args: argparse.Namespace) -> int:
    try:
        settings = None if args.from_shards else Settings(
            args.step, args.bound, args.quality, Resize(args.new_width, args.new_height, args.new_short))
        if args.from_shards and (args.step != 1 or args.new_width or args.new_height or args.new_short):
            raise RawframesError("--from-shards copies the shards as stored: no --step or resize options")
        if args.bound <= 0 or not 0 <= args.quality <= 100:
            raise RawframesError("--bound must be positive and --quality within 0..100")
        name = args.name or args.kind or "videos"
        lists.list_names(name, 0)  # a bad name fails before any work
        videos, splits, classes, earlier = _sources(args)
        if args.two_level:
            if splits is not None:
                splits = splits.rename(index={v.video_id: f"{v.class_name}/{v.video_id}" for v in videos})
            videos = sources.two_level(videos)
        backend = _backend(args) if settings is not None and settings.step else None
    except (IngestError, RawframesError, ValueError, RuntimeError) as e:
        return _error(str(e))
    try:
        done, failures = export.export(videos, args.out, backend=backend, settings=settings,
                                       workers=args.workers, pairs=args.batch_pairs)
    except RawframesError as e:
        return _error(str(e))
    folder = Path(args.lists or args.out)
    with_flow = settings is None or settings.step != 0
    written = lists.write_lists(folder, name, done, splits, classes, with_flow=with_flow)
    failures = export.failures_table(earlier, failures)
    write_csv(failures, folder / f"{name}_failures.csv")
    print(f"{len(done)} videos -> {args.out}; {len(written)} lists -> {folder}; "
          f"{len(failures)} failures -> {folder / f'{name}_failures.csv'}", file=sys.stderr)
    return 1 if failures.shape[0] and done.empty else 0


def _backend(args: argparse.Namespace):
    """The flow backend, with its CPU threads set (torch is imported only by the backends that use it)."""
    import cv2

    from twostream.flow import get_backend

    backend = get_backend(args.backend, args.device, args.variant)
    if args.threads:
        cv2.setNumThreads(args.threads)
        if backend.name == "torch":
            import torch

            torch.set_num_threads(args.threads)
    return backend
