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

from twostream.data.shards import Shard, ShardError, quantize_flow, remove_stale, verify, write_shard
from twostream.data.video import VideoError, read_frames
from twostream.flow import FlowBackend, normalize

INDEX_COLUMNS = ["video_id", "shard", "frames", "bytes", "status", "reason"]
TRUNCATED = 0.9  # fewer decodable frames than this share of the container's count: reported as truncated


def chunk_rows(manifest: pd.DataFrame, chunk: int, chunk_size: int) -> pd.DataFrame:
    """Rows [chunk * chunk_size, (chunk + 1) * chunk_size) of the manifest."""
    return manifest.iloc[chunk * chunk_size:(chunk + 1) * chunk_size]


def shard_path(shards_dir: str | os.PathLike, video_id: str) -> Path:
    return Path(shards_dir) / f"{video_id.replace(os.sep, '_')}.h5"


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


def verify_shards(done: pd.DataFrame) -> pd.DataFrame:
    """Read back every shard of the chunk indexes; a corrupted or missing one becomes a failure."""
    done = done.copy()
    for i in tqdm(done.index[done["status"] == "ok"], desc="verify shards", unit="shard", file=sys.stderr):
        try:
            verify(done.at[i, "shard"])
        except ShardError as e:
            print(f"{done.at[i, 'video_id']}: {e}", file=sys.stderr)
            reason = f"{e}; also delete {done.at[i, 'chunk']} so that the re-run rebuilds it"
            done.loc[i, ["status", "reason"]] = ["failed", reason]
    return done


def merge_index(manifest: pd.DataFrame, chunks: dict[str, pd.DataFrame], ingest_failures: pd.DataFrame
                ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(shard index, failures) from the manifest and the chunk indexes (by file name), shards verified.

    The failures table lists, by stage, videos left out and videos kept with a warning.
    """
    frames = [df.assign(chunk=name) for name, df in chunks.items()]
    done = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=INDEX_COLUMNS + ["chunk"])
    done = verify_shards(done)
    ok = done[done["status"] == "ok"][["video_id", "shard", "frames", "bytes"]]
    index = manifest.drop(columns=["frames"]).merge(ok, on="video_id", how="inner")
    noted = done[(done["status"] == "failed") | (done["reason"] != "")]
    failures = pd.concat([
        ingest_failures,
        pd.DataFrame({"video": noted["video_id"], "stage": "flow+pack", "reason": noted["reason"]}),
    ], ignore_index=True)
    return index, failures
