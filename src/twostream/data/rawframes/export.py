"""Export many videos as rawframes folders: computed from videos, or copied from shards.

Step 1 (the default) runs on the pipeline's core (``twostream.data.extract.flow_videos``: the same
decoder, worker processes and flow batches across videos as ``twostream extract``); frames only
(step 0) and other steps are decoded here, one video at a time (``writer.compute``). A run holds a
lock on its output folder; a killed run leaves only temporary folders, which the next run deletes
and redoes; finished folders of the same recipe are kept.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import cv2
import pandas as pd
from tqdm import tqdm

from twostream.data.ingest.common import FAILURE_COLUMNS
from twostream.data.rawframes.naming import RawframesError
from twostream.data.rawframes.sources import STAGE, Video, fail
from twostream.data.rawframes.writer import (
    Settings,
    build,
    compute,
    copy_shard,
    decode_resized,
    finished,
    shard_recipe,
    video_recipe,
    write_decoded,
)
from twostream.data.shards import ShardError
from twostream.data.video import VideoError, describe_dropped
from twostream.files import WriteError
from twostream.flow import FlowBackend

TYPICAL_SIZE = (256, 340)  # sizes GPU flow batches (the pipeline's core) when videos differ in size


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
    rows). A finished folder of the same recipe is kept; a bad video is reported on one line and the rest go on
    (a write the output folder refuses, disk full or read-only, is a WriteError that stops the export);
    a video kept without frames that do not decode is a failures row too (its note, ``kept: ...``).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    videos = list(videos)
    rows, failures = [], []
    start = time.perf_counter()
    with locked(out), tqdm(total=len(videos), desc=STAGE, unit="video", file=sys.stderr) as bar:
        for stale in [*out.glob(".*.tmp*"), *out.glob("*/.*.tmp*")]:  # what killed runs left (we hold the lock)
            shutil.rmtree(stale, ignore_errors=True)
        for video, result in _results(videos, out, backend, settings, workers, pairs, bar):
            bar.update()
            if isinstance(result, Exception):
                fail(failures, video.source, str(result).strip())
                continue
            done, status = result
            lost = done.get("frames_dropped", [])
            if lost:
                fail(failures, video.source, describe_dropped(lost, done["frames"]))
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
        except WriteError:
            raise  # the output folder refuses writes (disk full, read-only): so would it for every other video
        except ERRORS as e:
            result = e
        yield video, result
    if todo:
        yield from _core(todo, out, backend, settings, workers, pairs, bar)


def _core(todo: list[tuple[Video, dict]], out: Path, backend: FlowBackend, settings: Settings, workers: int,
          pairs: int, bar: tqdm) -> Iterator[tuple[Video, tuple[dict, str] | Exception]]:
    """Frames and step-1 flow of the videos from the pipeline's core, each written as its folder."""
    from twostream.data.extract import (  # imports torch: only when flow is computed
        batch_pairs,
        flow_videos,
    )

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
        except WriteError:
            raise  # the output folder refuses writes (disk full, read-only): so would it for every other video
        except ERRORS as e:
            result = e
        yield video, result


def _usable(video: Video) -> Video:
    """The video, or VideoError if its id cannot be a folder of an mmaction2 list (one level, or two:
    ``Class/video``)."""
    parts = video.video_id.split("/")
    if any(ch.isspace() for ch in video.video_id) or len(parts) > 2 or any(not p or p.startswith(".") for p in parts):
        raise VideoError(f"video id {video.video_id!r} cannot be an mmaction2 list entry "
                         "(whitespace, a leading dot, or more than two levels)")
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



def failures_table(*tables: pd.DataFrame | list[tuple[str, str, str]]) -> pd.DataFrame:
    """Failure rows (video, stage, reason) of several stages as one table."""
    frames = [t if isinstance(t, pd.DataFrame) else pd.DataFrame(t, columns=FAILURE_COLUMNS) for t in tables]
    return pd.concat([pd.DataFrame(columns=FAILURE_COLUMNS), *frames], ignore_index=True)
