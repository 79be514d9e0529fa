"""Flow + pack for a chunk of videos: decode, resize, TV-L1, clip and quantise, write shards."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from twostream.data.shards import (Shard, ShardError, quantize_flow, remove_stale, shard_name, verify,
                                   write_shard)
from twostream.data.video import VideoError, read_frames
from twostream.flow import FlowBackend, normalize

INDEX_COLUMNS = ["video_id", "shard", "frames", "bytes", "status", "reason"]
TRUNCATED = 0.9  # fewer decodable frames than this share of the container's count: reported as truncated


def chunk_rows(manifest: pd.DataFrame, chunk: int, chunk_size: int) -> pd.DataFrame:
    """Rows [chunk * chunk_size, (chunk + 1) * chunk_size) of the manifest."""
    return manifest.iloc[chunk * chunk_size:(chunk + 1) * chunk_size]


def shard_path(shards_dir: str | os.PathLike, video_id: str) -> Path:
    return Path(shards_dir) / shard_name(video_id)


def recipe(row: pd.Series, backend: FlowBackend, *, size: tuple[int, int], bound: float, quality: int,
           code: str) -> str:
    """Everything a shard's content depends on: the video (id, file size and mtime), settings, code, libraries.

    (The backend's parameters follow from its name, the frame size and the code. The file's folder is
    left out, so a dataset moved with its mtimes kept, e.g. by ``cp -a``, keeps its shards.)
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
        "flow_backend": backend.name, "flow_bound": float(bound), "jpeg_quality": quality, "code": code,
        "opencv": cv2.__version__, "torch": torch.__version__,
    }, sort_keys=True)


def reusable(out: Path, key: str) -> int | None:
    """Frame count of a complete, intact shard at ``out`` made by the same recipe; None otherwise."""
    if not out.is_file():
        return None
    try:
        with Shard(out) as shard:
            return shard.verify() if shard.attrs.get("recipe") == key else None
    except ShardError:
        return None


def extract_video(row: pd.Series, backend: FlowBackend, out: Path, *, size: tuple[int, int], bound: float,
                  quality: int, length: int = 5, code: str = "") -> tuple[int, int, str]:
    """Write one video's shard; returns (decoded frames, shard bytes, warning or '').

    A shard already made by the same recipe (e.g. by a run that a split-file edit re-runs) is kept.
    Raises VideoError for videos that cannot be used (nothing decodes, a single frame).
    """
    key = recipe(row, backend, size=size, bound=bound, quality=quality, code=code)
    done = reusable(out, key)
    if done is not None:
        return done, out.stat().st_size, _warning(done, int(row["frames"]), length)
    frames = read_frames(row["path"], size)
    if len(frames) < 2:
        raise VideoError(f"only {len(frames)} decodable frame: no flow can be computed")
    grey = np.stack([cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in frames])
    flow = backend.compute(grey[:-1], grey[1:])
    attrs = {
        "video_id": row["video_id"], "label": int(row["label"]), "class_name": row["class_name"],
        "fps": float(row["fps"]), "source": str(row["path"]), "flow_backend": backend.name,
        "flow_params": backend.params(), "flow_bound": float(bound), "recipe": key,
    }
    remove_stale(out)
    nbytes = write_shard(out, frames, quantize_flow(normalize(flow, bound)), attrs, quality)
    try:
        verify(out)
    except ShardError:
        out.unlink(missing_ok=True)
        raise
    return len(frames), nbytes, _warning(len(frames), int(row["frames"]), length)


def _warning(decoded: int, listed: int, length: int) -> str:
    """A note for videos that are used but not as their container describes them."""
    notes = []
    if decoded < TRUNCATED * listed:
        notes.append(f"truncated: {decoded} of {listed} frames decode (kept: the {decoded} are used)")
    if decoded < length + 1:
        notes.append(f"short: {decoded} frames, fewer than one flow stack of {length} (kept: the last flow field repeats)")
    return "; ".join(notes)


def extract_chunk(rows: pd.DataFrame, backend: FlowBackend, shards_dir: str | os.PathLike, *,
                  size: tuple[int, int], bound: float, quality: int, length: int = 5, code: str = "") -> pd.DataFrame:
    """Extract every video of ``rows``; a bad video is reported on one line and listed, the rest go on."""
    records = []
    for _, row in tqdm(rows.iterrows(), total=len(rows), desc="flow+pack", unit="video", file=sys.stderr):
        out = shard_path(shards_dir, row["video_id"])
        try:
            frames, nbytes, warning = extract_video(row, backend, out, size=size, bound=bound, quality=quality,
                                                    length=length, code=code)
            if warning:
                print(f"{row['path']}: {warning}", file=sys.stderr)
            records.append((row["video_id"], str(out), frames, nbytes, "ok", warning))
        except (VideoError, ShardError) as e:
            print(f"{row['path']}: {e}", file=sys.stderr)
            records.append((row["video_id"], "", 0, 0, "failed", str(e)))
    return pd.DataFrame(records, columns=INDEX_COLUMNS)
