"""Flow + pack for a chunk of videos: decode, resize, TV-L1, clip and quantise, write shards.

Pipelined (``extract_chunk``): worker processes decode ahead, flow runs in batches that
cross video boundaries, and a writer thread quantises, encodes and writes behind.
"""

from __future__ import annotations

import json
import os
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from twostream.data.decoding import Decoded, DecoderPool, decode
from twostream.data.shards import (Shard, ShardError, flow_fields, jpeg_blobs, quantize_flow, remove_stale, shard_name,
                                   verify, write_encoded)
from twostream.data.video import VideoError, describe_dropped, dropped
from twostream.flow import FlowBackend, normalize
from twostream.flow.tvl1 import CPU_BATCH

INDEX_COLUMNS = ["video_id", "shard", "frames", "frames_dropped", "bytes", "status", "reason"]
TRUNCATED = 0.9  # fewer decodable frames than this share of the container's count: reported as truncated
# GPU batches from free memory: torch TV-L1 holds ~60 float32 planes per pair at the finest level
# (the pyramid and the median filter's 25 neighbours add to it): ~240 bytes per pixel of a pair.
BYTES_PER_PIXEL_PAIR = 240
MAX_GPU_BATCH = 1024
WINDOW = 64  # frames of a video decoded, flowed and encoded at a time (~17 MB at 256x340): memory stays bounded


def chunk_rows(manifest: pd.DataFrame, chunk: int, chunk_size: int) -> pd.DataFrame:
    """Rows [chunk * chunk_size, (chunk + 1) * chunk_size) of the manifest."""
    return manifest.iloc[chunk * chunk_size:(chunk + 1) * chunk_size]


def shard_path(shards_dir: str | os.PathLike, video_id: str) -> Path:
    return Path(shards_dir) / shard_name(video_id)


def recipe(row: pd.Series, backend: FlowBackend, *, size: tuple[int, int], bound: float, quality: int,
           code: str) -> str:
    """Everything a shard's content depends on: the video (id, file size and mtime), settings, code, libraries.

    (The backend's parameters include the torch variant. The file's folder is left out, so a dataset
    moved with its mtimes kept, e.g. by ``cp -a``, keeps its shards.)
    """
    try:
        stat = os.stat(row["path"])
    except FileNotFoundError:
        raise VideoError("file not found") from None
    except OSError as e:
        raise VideoError(f"cannot read the file ({e.strerror})") from None
    return json.dumps({
        "video_id": row["video_id"], "source_bytes": stat.st_size, "source_mtime_ns": stat.st_mtime_ns,
        "label": int(row["label"]), "class_name": row["class_name"], "size": list(size),
        "flow_backend": backend.name, "flow_params": backend.params(), "flow_bound": float(bound),
        "jpeg_quality": quality, "code": code,
        "opencv": cv2.__version__, "torch": torch.__version__,
    }, sort_keys=True)


def reusable(out: Path, key: str) -> tuple[int, list[int]] | None:
    """(frame count, positions of the frames dropped) of a complete, intact shard at ``out`` made by the same
    recipe; None otherwise."""
    if not out.is_file():
        return None
    try:
        with Shard(out) as shard:
            if shard.attrs.get("recipe") != key:
                return None
            return shard.verify(), json.loads(shard.attrs.get("frames_dropped", "[]"))
    except ShardError:
        return None


@dataclass
class Job:
    """One video of a chunk: its manifest row, shard path and recipe."""

    row: pd.Series
    out: Path
    key: str


def _write(job: Job, frames: np.ndarray, flow: np.ndarray, lost: list[int], backend: FlowBackend, *, bound: float,
           quality: int) -> int:
    """Quantise the flow and write the video's shard (temp name + rename), verified; returns its bytes."""
    return _write_encoded(job, jpeg_blobs(list(frames), quality),
                          jpeg_blobs(flow_fields(quantize_flow(normalize(flow, bound))), quality),
                          frames.shape[1:3], lost, backend, bound=bound, quality=quality)


def _write_encoded(job: Job, rgb: list[np.ndarray], flow: list[np.ndarray], size: tuple[int, int], lost: list[int],
                   backend: FlowBackend, *, bound: float, quality: int) -> int:
    """Write the video's shard from its frames' and quantised flow's JPEGs (temp name + rename), verified;
    returns its bytes. ``lost``: the positions of the frames that did not decode (attribute ``frames_dropped``)."""
    row = job.row
    attrs = {
        "video_id": row["video_id"], "label": int(row["label"]), "class_name": row["class_name"],
        "fps": float(row["fps"]), "source": str(row["path"]), "flow_backend": backend.name,
        "flow_params": backend.params(), "flow_bound": float(bound), "recipe": job.key,
        "frames_dropped": json.dumps([int(p) for p in lost]),
    }
    remove_stale(job.out)
    nbytes = write_encoded(job.out, rgb, flow, (int(size[0]), int(size[1])), attrs, quality)
    try:
        verify(job.out)
    except ShardError:
        job.out.unlink(missing_ok=True)
        raise
    return nbytes


def extract_video(row: pd.Series, backend: FlowBackend, out: Path, *, size: tuple[int, int], bound: float,
                  quality: int, length: int, code: str = "") -> tuple[int, int, str]:
    """One video's shard, serially in this process (the reference the pipeline matches): (frames, bytes, warning).

    A shard already made by the same recipe is kept. Raises VideoError for videos that cannot be used.
    """
    key = recipe(row, backend, size=size, bound=bound, quality=quality, code=code)
    done = reusable(out, key)
    if done is not None:
        return done[0], out.stat().st_size, frames_warning(*done, int(row["frames"]), length)
    frames, grey, positions = decode(row["path"], size)
    if len(frames) < 2:
        raise VideoError(f"only {len(frames)} decodable frame: no flow can be computed")
    lost = dropped(positions).tolist()
    nbytes = _write(Job(row, Path(out), key), frames, backend.compute(grey[:-1], grey[1:]), lost, backend,
                    bound=bound, quality=quality)
    return len(frames), nbytes, frames_warning(len(frames), lost, int(row["frames"]), length)


def flow_windows(jobs: Iterable[Any], backend: FlowBackend, *, path: Callable[[Any], str], size: tuple[int, int],
                 batch_pairs: int, workers: int, decoder: Callable = decode, window: int = WINDOW,
                 bound: float | None = None) -> Iterator[tuple[Any, Decoded | None, np.ndarray | VideoError, bool]]:
    """Each video in windows of at most ``window`` frames, in order: yields (job, (frames, grey), flow, last),
    the flow being that of the pairs ending at the window's frames (the first window has one pair
    fewer), or (job, None, VideoError, True) for a video that cannot be used (perhaps after some of
    its windows: drop them).

    The pipeline's core: ``workers`` processes decode, resize and greyscale the next videos
    (``DecoderPool``: a native crash costs one video, reported "decoder crashed (signal N)"),
    a window at a time, while the flow of batches of ``batch_pairs`` frame pairs runs here,
    the pairs of several windows and videos in one batch. ``path(job)`` names a job's video.
    No more than the windows whose flow is pending are held, never a whole video. With ``bound``
    the flow comes quantised as shards store it (``FlowBackend.compute_quantized``: on a GPU, on
    the device), uint8 instead of float32.
    """
    waiting: deque[list] = deque()  # [video number, job, window, flow parts, pairs, last], flow pending, in order
    queued: list[tuple[np.ndarray, np.ndarray, list[np.ndarray]]] = []  # (prev, nxt, where their flow goes)
    failed: set[int] = set()  # videos that failed after some of their windows: those still pending are dropped

    def run_batch() -> None:
        prev, nxt = np.concatenate([p for p, _, _ in queued]), np.concatenate([n for _, n, _ in queued])
        flow = backend.compute(prev, nxt) if bound is None else backend.compute_quantized(prev, nxt, bound)
        at = 0
        for prev, _, parts in queued:
            parts.append(flow[at:at + len(prev)])
            at += len(prev)
        queued.clear()

    def finished() -> Iterator[tuple[Any, Decoded, np.ndarray, bool]]:
        while waiting and sum(len(p) for p in waiting[0][3]) == waiting[0][4]:
            k, job, part, parts, _, last = waiting.popleft()
            if k not in failed:
                empty = np.zeros((0, *size, 2), np.float32 if bound is None else np.uint8)
                yield job, part, np.concatenate(parts) if parts else empty, last

    def add(k: int, job: Any, part: Decoded, carry: np.ndarray | None, last: bool) -> Iterator:
        grey = part[1] if carry is None else np.concatenate([carry, part[1]])
        parts: list[np.ndarray] = []
        waiting.append([k, job, part, parts, len(grey) - 1, last])
        start = 0
        while start < len(grey) - 1:
            end = min(len(grey) - 1, start + batch_pairs - sum(len(p) for p, _, _ in queued))
            queued.append((grey[start:end], grey[start + 1:end + 1], parts))
            start = end
            if sum(len(p) for p, _, _ in queued) >= batch_pairs:
                run_batch()
                yield from finished()

    with DecoderPool(workers, decoder, window) as pool:
        for k, (job, video) in enumerate(pool.map(jobs, lambda j: (path(j), size))):
            if isinstance(video, VideoError):
                yield job, None, video, True
                continue
            held, carry, frames = None, None, 0  # a window is added once the next one (or the end) shows if it is last
            try:
                for part in video:
                    frames += len(part[1])
                    if held is not None:
                        yield from add(k, job, held, carry, False)
                        carry = held[1][-1:]
                    held = part
            except VideoError as e:
                failed.add(k)
                yield job, None, e, True
                continue
            if frames < 2:
                failed.add(k)
                yield job, None, VideoError(f"only {frames} decodable frame: no flow can be computed"), True
                continue
            yield from add(k, job, held, carry, True)
        if queued:
            run_batch()
        yield from finished()


def flow_videos(jobs: Iterable[Any], backend: FlowBackend, *, path: Callable[[Any], str], size: tuple[int, int],
                batch_pairs: int, workers: int, decoder: Callable = decode
                ) -> Iterator[tuple[Any, Decoded | None, np.ndarray | VideoError]]:
    """Frames and raw flow of each video, whole, in order: yields (job, (frames, grey), flow) or (job, None,
    VideoError); ``flow_windows`` with each video's windows put together."""
    held: dict[int, list[tuple[Decoded, np.ndarray]]] = {}  # by id(job): its windows so far
    for job, part, flow, last in flow_windows(jobs, backend, path=path, size=size, batch_pairs=batch_pairs,
                                              workers=workers, decoder=decoder):
        if part is None:
            held.pop(id(job), None)
            yield job, None, flow
            continue
        held.setdefault(id(job), []).append((part, flow))
        if last:
            windows = held.pop(id(job))
            yield job, tuple(np.concatenate([p[c] for p, _ in windows]) for c in range(3)), np.concatenate(
                [f for _, f in windows])


def batch_pairs(configured: int, backend: FlowBackend, size: tuple[int, int]) -> int:
    """Frame pairs per flow batch: ``configured``, or (0) what the GPU's free memory holds, or CPU_BATCH."""
    if configured:
        return configured
    device = getattr(backend, "device", None)
    if device is None or device.type != "cuda":
        return CPU_BATCH
    free, _ = torch.cuda.mem_get_info(device)
    return max(1, min(MAX_GPU_BATCH, int(0.7 * free) // (BYTES_PER_PIXEL_PAIR * size[0] * size[1])))


def extract_chunk(rows: pd.DataFrame, backend: FlowBackend, shards_dir: str | os.PathLike, *,
                  size: tuple[int, int], bound: float, quality: int, length: int, code: str = "",
                  workers: int = 1, encoders: int = 1, pairs_per_batch: int = 0, decoder: Callable = decode,
                  window: int = WINDOW) -> pd.DataFrame:
    """Extract every video of ``rows``; a bad video is reported on one line and listed, the rest go on.

    A shard already made by the same recipe (e.g. by a run that a split-file edit re-runs)
    is kept. The others go through ``flow_windows`` (decoding ahead in ``workers``
    processes, ``window`` frames at a time, flow batched across videos) and are quantised
    and JPEG-encoded a window at a time behind it, in a writer thread (quantised by the backend,
    on the device for a GPU; the window's JPEGs encoded by ``encoders`` threads at once, OpenCV
    releasing the GIL); a video is held only as its JPEG bytes until its shard is written, byte
    for byte ``extract_video``'s. So the flow of the next batch runs while the last one is
    encoded and written.
    """
    records: dict[int, tuple] = {}
    jobs = []
    for i, (_, row) in enumerate(rows.iterrows()):
        out = shard_path(shards_dir, row["video_id"])
        try:
            key = recipe(row, backend, size=size, bound=bound, quality=quality, code=code)
        except VideoError as e:
            records[i] = _failed(row, e)
            continue
        done = reusable(out, key)
        if done is not None:
            records[i] = _ok(row, out, *done, out.stat().st_size, length)
        else:
            jobs.append((i, Job(row, out, key)))
    bar = tqdm(total=len(rows), initial=len(records), desc="flow+pack", unit="video", file=sys.stderr)
    pairs = batch_pairs(pairs_per_batch, backend, size)

    # by video: JPEGs of frames, of flow, positions of the frames
    encoded: dict[int, tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]] = {}

    def encode(i: int, job: Job, part: Decoded, flow_q: np.ndarray, last: bool) -> None:
        rgb, fields, positions = encoded.setdefault(i, ([], [], []))
        rgb += jpeg_blobs(list(part[0]), quality, pool)
        fields += jpeg_blobs(flow_fields(flow_q), quality, pool)
        positions.append(part[2])
        if not last:
            return
        del encoded[i]
        lost = dropped(np.concatenate(positions)).tolist()
        try:
            nbytes = _write_encoded(job, rgb, fields, size, lost, backend, bound=bound, quality=quality)
            records[i] = _ok(job.row, job.out, len(rgb), lost, nbytes, length)
        except ShardError as e:
            records[i] = _failed(job.row, e)
        bar.update()

    # one writer thread (a video's windows in order), its JPEGs encoded by ``encoders`` threads
    with ThreadPoolExecutor(1) as writer, ThreadPoolExecutor(encoders) as pool:
        written = []
        for (i, job), part, flow, last in flow_windows(jobs, backend, path=lambda j: j[1].row["path"], size=size,
                                                       batch_pairs=pairs, workers=workers, decoder=decoder,
                                                       window=window, bound=bound):
            if part is None:
                written.append(writer.submit(encoded.pop, i, None))  # drop its windows, in the writer's order
                records[i] = _failed(job.row, flow)
                bar.update()
            else:
                written.append(writer.submit(encode, i, job, part, flow, last))
        for future in written:
            future.result()  # an error no single video explains (a full disk) stops the chunk here
    bar.close()
    return pd.DataFrame([records[i] for i in sorted(records)], columns=INDEX_COLUMNS)


def _ok(row: pd.Series, out: Path, frames: int, lost: list[int], nbytes: int, length: int) -> tuple:
    warning = frames_warning(frames, lost, int(row["frames"]), length)
    if warning:
        print(f"{row['path']}: {warning}", file=sys.stderr)
    return (row["video_id"], str(out), frames, len(lost), nbytes, "ok", warning)


def _failed(row: pd.Series, error: Exception) -> tuple:
    print(f"{row['path']}: {error}", file=sys.stderr)
    return (row["video_id"], "", 0, 0, 0, "failed", str(error))


def frames_warning(decoded: int, lost: list[int], listed: int, length: int) -> str:
    """A note for videos that are used but not as their container describes them: frames that did not decode
    before the last that did (dropped), none decoding after a point well before the container's count (truncated)."""
    notes = [describe_dropped(lost, decoded)] if lost else []
    if decoded + len(lost) < TRUNCATED * listed:
        notes.append(f"truncated: {decoded} of {listed} frames decode (kept: the {decoded} are used)")
    if decoded < length + 1:
        notes.append(f"short: {decoded} frames, fewer than one flow stack of {length} (kept: the last flow field repeats)")
    return "; ".join(notes)
