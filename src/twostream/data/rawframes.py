"""Rawframes for mmaction2 in denseflow's layout: per video, frame and flow JPEGs, plus the file lists.

``out/<video id>/`` holds (numbers 1-based, 5 digits; mmaction2's ``RawframeDataset`` reads from
``start_index=1``):

* ``img_00001.jpg ... img_<T>.jpg``: the T decoded frames (colour JPEG);
* ``flow_x_<n>.jpg``, ``flow_y_<n>.jpg``: greyscale JPEGs of the flow from frame n to frame n + step,
  T - step of each (step 1: one per frame pair); other steps are named as denseflow names them
  (``flow_x_p2_<n>`` for step 2, ``flow_x_m1_<n>`` for step -1, the flow from frame n back to n - 1);
  step 0 writes frames only;
* ``.done``: the recipe, counts and the positions of the source frames that did not decode (``frames_dropped``,
  0-based; the frames that decode are numbered 1..T without gaps), written last. A video's folder is built under a temporary name and
  renamed when complete, so a folder with its final name is always complete; a killed run leaves only
  temporary folders, which the next run deletes and redoes.

Flow JPEGs hold the shards' quantisation (``twostream.data.shards.quantize_flow``): clipped to +-bound,
q = round(127 v / bound) + 128. denseflow (open-mmlab/denseflow, ``convertFlowToImage``) maps
round(255 (v + bound) / (2 bound)): zero is 128 in both and they differ by at most one grey level
(-bound is 0 there, 1 here). Other differences from denseflow: it numbers from 0 (``img_00000``, the
off-by-one mmaction2 users meet with ``start_index=1``); frames shrunk on decode use ``INTER_AREA`` (as
the shards' frames) where denseflow resizes bilinearly. The resize rules are denseflow's (see ``Resize``).

Step 1 (the default) runs on the pipeline's core (``twostream.data.extract.flow_videos``: the same
decoder, worker processes and flow batches across videos as ``twostream extract``); frames only
(step 0) and other steps are decoded here, one video at a time.

File lists are mmaction2's ``<folder> <total_frames> <label>`` lines: ``total_frames`` counts the
``img_`` files for RGB lists and the ``flow_x_`` files for flow lists (``*_flow.txt``).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from tqdm import tqdm

from twostream.data.decoding import Decoded, decode
from twostream.data.ingest.common import FAILURE_COLUMNS, is_video, read_lines
from twostream.data.shards import Shard, ShardError, quantize_flow
from twostream.data.video import VideoError, describe_dropped, dropped, iter_frames, probe
from twostream.files import write_text
from twostream.flow import FlowBackend, normalize

LAYOUT = 1  # version of this layout, recorded in every .done marker
DONE = ".done"
STAGE = "rawframes"
PAIRS_PER_CALL = 32  # other steps than 1: frame pairs handed to the flow backend at once
TYPICAL_SIZE = (256, 340)  # sizes GPU flow batches (the pipeline's core) when videos differ in size


class RawframesError(Exception):
    """Bad arguments (resize options that contradict each other, an unusable list name)."""


@dataclass(frozen=True)
class Resize:
    """denseflow's ``--newWidth/--newHeight/--newShort`` (0: unset)."""

    width: int
    height: int
    short: int

    def __post_init__(self) -> None:
        if min(self.width, self.height, self.short) < 0:
            raise RawframesError("new width, height and short side cannot be negative")
        if self.short and (self.width or self.height):
            raise RawframesError("give either a new short side or a new width/height, not both")

    def size(self, height: int, width: int) -> tuple[int, int] | None:
        """(H, W) a (height, width) video is resized to, or None to keep it.

        Both sides given: that size; one side: the other keeps the aspect ratio; a short side: only
        videos whose short side is longer shrink (never enlarged), as denseflow does.
        """
        if self.width and self.height:
            return self.height, self.width
        if self.width:
            return _round(height * self.width / width), self.width
        if self.height:
            return self.height, _round(width * self.height / height)
        if self.short and min(height, width) > self.short:
            if width < height:
                return _round(height * self.short / width), self.short
            return self.short, _round(width * self.short / height)
        return None


def _round(x: float) -> int:
    """C's round() for positive numbers (half away from zero), as denseflow rounds sizes."""
    return int(math.floor(x + 0.5))


@dataclass(frozen=True)
class Settings:
    """What a computed video's files depend on, besides the video and the backend."""

    step: int
    bound: float
    quality: int
    resize: Resize


@dataclass(frozen=True)
class Video:
    """One video to export: its folder name, source (a video file or a shard) and label."""

    video_id: str
    source: str
    label: int
    class_name: str


# ----------------------------------------------------------------------------- names


def flow_prefix(step: int, axis: str) -> str:
    """``flow_x_`` (step 1), ``flow_x_p2_`` (step 2), ``flow_x_m1_`` (step -1), as denseflow names them."""
    if step == 1:
        return f"flow_{axis}_"
    return f"flow_{axis}_{'p' if step > 0 else 'm'}{abs(step)}_"


def image_name(prefix: str, n: int) -> str:
    return f"{prefix}{n:05d}.jpg"


# ----------------------------------------------------------------------------- inputs


def find_videos(inputs: Sequence[str], failures: list[tuple[str, str, str]]) -> list[Video]:
    """Videos named by the inputs: video files, folders (searched recursively), ``.txt`` lists of videos.

    A list holds one video path a line (relative paths from the current folder, as denseflow reads them).

    A video's id is its file stem (as denseflow names its output folder); its class is its folder's
    name, labelled by the sorted class names. Of several files with one stem the first in sorted path
    order is kept; the others, and inputs that do not exist, are failures.
    """
    paths: list[Path] = []
    for text in inputs:
        path = Path(text)
        if path.is_dir():
            paths += sorted(Path(d) / f for d, _, files in os.walk(path) for f in files if is_video(f))
        elif path.suffix.lower() == ".txt" and path.is_file():
            paths += [Path(line) for _, line in read_lines(path)]
        elif path.exists():
            paths.append(path)
        else:
            _fail(failures, text, "file not found")
    by_id: dict[str, Path] = {}
    for path in sorted({p.absolute() for p in paths}):
        kept = by_id.setdefault(path.stem, path)
        if kept != path:
            _fail(failures, str(path), f"duplicate video id {path.stem} (kept {kept})")
    classes = sorted({p.parent.name for p in by_id.values()})
    return [Video(vid, str(p), classes.index(p.parent.name), p.parent.name) for vid, p in sorted(by_id.items())]


def videos_from_table(table: pd.DataFrame, source: str) -> list[Video]:
    """Videos of a manifest (``source="path"``) or a shard index (``source="shard"``)."""
    return [Video(r.video_id, getattr(r, source), int(r.label), r.class_name) for r in table.itertuples()]


def _fail(failures: list[tuple[str, str, str]], video: str, reason: str) -> None:
    failures.append((video, STAGE, reason))
    tqdm.write(f"{video}: {reason}", file=sys.stderr)


# ----------------------------------------------------------------------------- one video


def _stat(path: str) -> dict[str, int]:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise VideoError("file not found") from None
    return {"source_bytes": st.st_size, "source_mtime_ns": st.st_mtime_ns}


def video_recipe(video: Video, backend: FlowBackend | None, settings: Settings) -> dict:
    """Everything a computed video's files depend on (a finished video made by another recipe is redone)."""
    return {"layout": LAYOUT, "source": video.source, **_stat(video.source), "step": settings.step,
            "bound": float(settings.bound), "quality": settings.quality,
            "resize": [settings.resize.width, settings.resize.height, settings.resize.short],
            "flow_backend": backend.name if backend is not None and settings.step else None}


def shard_recipe(video: Video) -> dict:
    """What a video exported from a shard depends on: the shard file."""
    return {"layout": LAYOUT, "shard": video.source, **_stat(video.source)}


def finished(folder: Path, recipe: dict) -> dict | None:
    """The ``.done`` record of a complete folder made by ``recipe``, else None."""
    try:
        done = json.loads((folder / DONE).read_text())
    except (OSError, ValueError):
        return None
    return done if done.get("recipe") == recipe else None


Writer = Callable[[Path, Callable[[int, int], None]], tuple[int, int, list[int]]]


def build(folder: Path, recipe: dict, write: Writer, progress: Callable[[int, int], None]) -> dict:
    """Write a video's folder with ``write(tmp, progress) -> (frames, flows, positions of frames dropped)`` under a
    temporary name, then rename it.

    A complete folder of another recipe is replaced only once the new one is complete.
    """
    tmp = folder.with_name(f".{folder.name}.tmp{os.getpid()}")
    tmp.mkdir(parents=True)
    try:
        frames, flows, lost = write(tmp, progress)
        done = {"recipe": recipe, "frames": frames, "flows": flows, "frames_dropped": lost}
        (tmp / DONE).write_text(json.dumps(done, sort_keys=True))
        if folder.exists():
            old = folder.with_name(f".{folder.name}.tmp{os.getpid()}old")
            os.rename(folder, old)
            os.rename(tmp, folder)
            shutil.rmtree(old)
        else:
            os.rename(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return done


def _write_jpeg(path: Path, image: np.ndarray, quality: int) -> None:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise VideoError(f"JPEG encoding failed for {path.name}")
    path.write_bytes(buf.tobytes())


def compute(video: Video, backend: FlowBackend | None, settings: Settings) -> Writer:
    """A writer of a video's frames and flow: decode, resize, write each frame, flow in batches of pairs."""
    info = probe(video.source)
    size = settings.resize.size(info.height, info.width)
    step, s = settings.step, abs(settings.step)

    def write(folder: Path, progress: Callable[[int, int], None]) -> tuple[int, int, list[int]]:
        frames = flows = 0
        grey: list[np.ndarray] = []
        positions = []
        for position, frame in iter_frames(video.source, size):
            frames += 1
            positions.append(position)
            _write_jpeg(folder / image_name("img_", frames), frame, settings.quality)
            if s:
                grey.append(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))
            if s and len(grey) == PAIRS_PER_CALL + s:
                flows += _write_flow(folder, grey, backend, settings, flows)
                grey = grey[-s:]
                progress(frames, flows)
        if s and len(grey) > s:
            flows += _write_flow(folder, grey, backend, settings, flows)
        if frames <= s:
            raise VideoError(f"only {frames} decodable frame(s): no flow at step {step} can be computed")
        return frames, flows, dropped(np.array(positions)).tolist()

    return write


def _write_flow(folder: Path, grey: list[np.ndarray], backend: FlowBackend, settings: Settings, done: int) -> int:
    """Flow of the pairs (t, t + step) in ``grey`` (the first ``done`` fields are written); returns how many."""
    s = abs(settings.step)
    frames = np.stack(grey)
    first, last = (frames[:-s], frames[s:]) if settings.step > 0 else (frames[s:], frames[:-s])
    q = quantize_flow(normalize(backend.compute(first, last), settings.bound))
    offset = done + 1 + (s if settings.step < 0 else 0)  # the 1-based number of the pair's first frame
    for c, axis in enumerate("xy"):
        prefix = flow_prefix(settings.step, axis)
        for i in range(len(q)):
            _write_jpeg(folder / image_name(prefix, offset + i), q[i, :, :, c], settings.quality)
    return len(q)


def decode_resized(path: str, resize: tuple[int, int, int]) -> Decoded:
    """The pipeline's decoder at the size that ``Resize(*resize)`` gives this video (a worker process runs it).

    (The core hands every video the same second argument: here the resize rule, not a size.)
    """
    info = probe(path)
    return decode(path, Resize(*resize).size(info.height, info.width))


def write_decoded(frames: np.ndarray, positions: np.ndarray, flow: np.ndarray, settings: Settings) -> Writer:
    """A writer of frames (at ``positions`` in the video) and step-1 flow the pipeline's core computed."""

    def write(folder: Path, progress: Callable[[int, int], None]) -> tuple[int, int, list[int]]:
        for t, frame in enumerate(frames):
            _write_jpeg(folder / image_name("img_", t + 1), frame, settings.quality)
        q = quantize_flow(normalize(flow, settings.bound))
        for t in range(len(q)):
            for c, axis in enumerate("xy"):
                _write_jpeg(folder / image_name(flow_prefix(1, axis), t + 1), q[t, :, :, c], settings.quality)
        return len(frames), len(q), dropped(positions).tolist()

    return write


def copy_shard(video: Video) -> Writer:
    """A writer of a shard's frames and flow as files: its JPEGs copied byte for byte (nothing re-encoded)."""

    def write(folder: Path, progress: Callable[[int, int], None]) -> tuple[int, int, list[int]]:
        with Shard(video.source) as shard:
            for t in range(shard.frames):
                (folder / image_name("img_", t + 1)).write_bytes(shard.rgb_bytes(t).tobytes())
            for t in range(shard.frames - 1):
                for axis, jpeg in zip("xy", shard.flow_bytes(t, 1)):
                    (folder / image_name(flow_prefix(1, axis), t + 1)).write_bytes(jpeg.tobytes())
            return shard.frames, shard.frames - 1, json.loads(shard.attrs.get("frames_dropped", "[]"))

    return write


# ----------------------------------------------------------------------------- many videos


@contextlib.contextmanager
def locked(out: Path) -> Iterator[None]:
    """Hold ``out/.lock`` for this run: a second run on the same folder stops instead of deleting our work."""
    with open(out / ".lock", "a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RawframesError(f"{out}: another rawframes run is writing there") from None
        yield


ERRORS = (VideoError, ShardError, cv2.error, OSError)


def export(videos: Iterable[Video], out: str | os.PathLike, *, backend: FlowBackend | None = None,
           settings: Settings | None = None, workers: int = 1, pairs: int = 0
           ) -> tuple[pd.DataFrame, list[tuple[str, str, str]]]:
    """Write every video's folder under ``out`` (computed, or copied from shards when ``settings`` is None).

    Step 1 goes through the pipeline's core (``twostream.data.extract.flow_videos``: ``workers`` decoding
    processes, flow in batches of ``pairs`` frame pairs across videos, 0: the pipeline's choice).
    Returns (done: video_id, label, class_name, frames, frames_dropped, flows, status 'done' or 'kept'; failures
    rows). A finished folder of the same recipe is kept; a bad video is reported on one line and the rest go on;
    a video kept without frames that do not decode is a failures row too (its note, ``kept: ...``).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    videos = list(videos)
    rows, failures = [], []
    start = time.perf_counter()
    with locked(out), tqdm(total=len(videos), desc=STAGE, unit="video", file=sys.stderr) as bar:
        for stale in out.glob(".*.tmp*"):  # what killed runs left (we hold the lock: no other run writes)
            shutil.rmtree(stale, ignore_errors=True)
        for video, result in _results(videos, out, backend, settings, workers, pairs, bar):
            bar.update()
            if isinstance(result, Exception):
                _fail(failures, video.source, str(result).strip())
                continue
            done, status = result
            lost = done.get("frames_dropped", [])
            if lost:
                _fail(failures, video.source, describe_dropped(lost, done["frames"]))
            rows.append((video.video_id, video.label, video.class_name, done["frames"], len(lost), done["flows"],
                         status))
    table = pd.DataFrame(rows, columns=["video_id", "label", "class_name", "frames", "frames_dropped", "flows",
                                        "status"])
    table = table.sort_values("video_id", ignore_index=True)
    _summary(table, time.perf_counter() - start)
    return table, failures


def _summary(table: pd.DataFrame, seconds: float) -> None:
    written = table[table["status"] == "done"]
    tqdm.write(f"{STAGE}: {len(table)} videos ({len(table) - len(written)} already done), "
               f"{written['frames'].sum()} frames and {written['flows'].sum()} flow fields written in "
               f"{seconds:.1f} s ({written['frames'].sum() / max(seconds, 1e-9):.2f} frames/s)", file=sys.stderr)


def _results(videos: list[Video], out: Path, backend: FlowBackend | None, settings: Settings | None,
             workers: int, pairs: int, bar: tqdm) -> Iterator[tuple[Video, tuple[dict, str] | Exception]]:
    """(video, (done record, status) or the error) of each video; step 1 through the pipeline's core."""
    core = settings is not None and settings.step == 1
    todo = []
    for video in videos:
        def progress(frames: int, flows: int, video_id: str = video.video_id) -> None:
            bar.set_postfix_str(f"{video_id}: {frames} frames, {flows} flow fields")

        progress(0, 0)
        try:
            if not core:
                result = export_video(video, out, backend, settings, progress)
            else:
                recipe = video_recipe(_usable(video), backend, settings)
                done = finished(out / video.video_id, recipe)
                if done is None:
                    todo.append((video, recipe))
                    continue
                result = done, "kept"
        except ERRORS as e:
            result = e
        yield video, result
    if todo:
        yield from _core(todo, out, backend, settings, workers, pairs, bar)


def _core(todo: list[tuple[Video, dict]], out: Path, backend: FlowBackend, settings: Settings, workers: int,
          pairs: int, bar: tqdm) -> Iterator[tuple[Video, tuple[dict, str] | Exception]]:
    """Frames and step-1 flow of the videos from the pipeline's core, each written as its folder."""
    from twostream.data.extract import batch_pairs, flow_videos  # imports torch: only when flow is computed

    resize = settings.resize
    size = (resize.height, resize.width) if resize.width and resize.height else TYPICAL_SIZE
    rule = (resize.width, resize.height, resize.short)
    for (video, recipe), decoded, flow in flow_videos(todo, backend, path=lambda job: job[0].source, size=rule,
                                                      batch_pairs=batch_pairs(pairs, backend, size),
                                                      workers=workers, decoder=decode_resized):
        if decoded is None:
            yield video, flow
            continue
        bar.set_postfix_str(f"{video.video_id}: {len(decoded[0])} frames")
        try:
            result = build(out / video.video_id, recipe, write_decoded(decoded[0], decoded[2], flow, settings),
                           lambda frames, flows: None), "done"
        except ERRORS as e:
            result = e
        yield video, result


def _usable(video: Video) -> Video:
    """The video, or VideoError if its id cannot be a folder of an mmaction2 list."""
    if any(ch.isspace() for ch in video.video_id) or video.video_id.startswith("."):
        raise VideoError(f"video id {video.video_id!r} cannot be an mmaction2 list entry (whitespace or a leading dot)")
    return video


def export_video(video: Video, out: Path, backend: FlowBackend | None, settings: Settings | None,
                 progress: Callable[[int, int], None]) -> tuple[dict, str]:
    """(the ``.done`` record, 'kept' or 'done') of one video's folder, one video at a time (shards, steps but 1)."""
    folder = out / _usable(video).video_id
    recipe = shard_recipe(video) if settings is None else video_recipe(video, backend, settings)
    done = finished(folder, recipe)
    if done is not None:
        return done, "kept"
    writer = copy_shard(video) if settings is None else compute(video, backend, settings)
    return build(folder, recipe, writer, progress), "done"


# ----------------------------------------------------------------------------- file lists


def list_lines(done: pd.DataFrame, count: str) -> str:
    """mmaction2 rawframe list lines ``<folder> <total_frames> <label>`` (``count``: frames or flows)."""
    return "".join(f"{r.video_id} {getattr(r, count)} {r.label}\n" for r in done.itertuples())


def list_names(name: str, n_splits: int) -> list[tuple[str, int, str]]:
    """(file stem, split number or 0 for the whole set, role) of each list, named as mmaction2 names them.

    Several splits: ``<name>_{train,val}_split_<k>_rawframes``; one: ``<name>_{train,val}_list_rawframes``
    (``tools/data/build_file_list.py``); the whole set: ``<name>_rawframes``. Test videos go to ``val``.
    """
    if not name or any(ch.isspace() or ch in "/\\" for ch in name):
        raise RawframesError(f"list name {name!r} must be non-empty, without whitespace or slashes")
    names = [(f"{name}_rawframes", 0, "")]
    for k in range(1, n_splits + 1):
        middle = f"split_{k}" if n_splits > 1 else "list"
        for subset, role in (("train", "train"), ("val", "test")):
            names.append((f"{name}_{subset}_{middle}_rawframes", k, role))
    return names


def write_lists(folder: str | os.PathLike, name: str, done: pd.DataFrame, splits: pd.DataFrame | None,
                classes: Sequence[str], with_flow: bool) -> list[Path]:
    """The RGB (and flow) lists of the whole set and of each split, and ``<name>_classes.txt``.

    ``splits`` is indexed by video id with one column per split (cells ``train``, ``test`` or ``''``).
    """
    folder = Path(folder)
    written = []
    for stem, k, role in list_names(name, 0 if splits is None else splits.shape[1]):
        rows = done if not k else done[done["video_id"].map(splits.iloc[:, k - 1]).eq(role)]
        for count, suffix in (("frames", ""), ("flows", "_flow"))[:1 + with_flow]:
            path = folder / f"{stem}{suffix}.txt"
            write_text(list_lines(rows, count), path)
            written.append(path)
    path = folder / f"{name}_classes.txt"
    write_text("".join(f"{i} {c}\n" for i, c in enumerate(classes)), path)
    return [*written, path]


def failures_table(*tables: pd.DataFrame | list[tuple[str, str, str]]) -> pd.DataFrame:
    """Failure rows (video, stage, reason) of several stages as one table."""
    frames = [t if isinstance(t, pd.DataFrame) else pd.DataFrame(t, columns=FAILURE_COLUMNS) for t in tables]
    return pd.concat([pd.DataFrame(columns=FAILURE_COLUMNS), *frames], ignore_index=True)
