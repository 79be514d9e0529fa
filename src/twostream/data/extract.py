"""Flow + pack for a chunk of videos: decode, resize, TV-L1, clip and quantise, write shards."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from tqdm import tqdm

from twostream.data.shards import quantize_flow, write_shard
from twostream.data.video import VideoError, read_frames
from twostream.flow import FlowBackend, normalize

INDEX_COLUMNS = ["video_id", "shard", "frames", "bytes", "status", "reason"]


def chunk_rows(manifest: pd.DataFrame, chunk: int, chunk_size: int) -> pd.DataFrame:
    """Rows [chunk * chunk_size, (chunk + 1) * chunk_size) of the manifest."""
    return manifest.iloc[chunk * chunk_size:(chunk + 1) * chunk_size]


def shard_path(shards_dir: str | os.PathLike, video_id: str) -> Path:
    return Path(shards_dir) / f"{video_id.replace(os.sep, '_')}.h5"


def extract_video(row: pd.Series, backend: FlowBackend, out: Path, *, size: tuple[int, int], bound: float,
                  quality: int) -> tuple[int, int]:
    """Write one video's shard; returns (decoded frames, shard bytes). Raises VideoError for bad videos."""
    frames = read_frames(row["path"], size)
    if len(frames) < 2:
        raise VideoError(f"only {len(frames)} decodable frame: no flow can be computed")
    grey = np.stack([cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in frames])
    flow = backend.compute(grey[:-1], grey[1:])
    attrs = {
        "video_id": row["video_id"], "label": int(row["label"]), "class_name": row["class_name"],
        "fps": float(row["fps"]), "source": str(row["path"]), "flow_backend": backend.name,
        "flow_params": backend.params(), "flow_bound": float(bound),
    }
    nbytes = write_shard(out, frames, quantize_flow(normalize(flow, bound)), attrs, quality)
    return len(frames), nbytes


def extract_chunk(rows: pd.DataFrame, backend: FlowBackend, shards_dir: str | os.PathLike, *,
                  size: tuple[int, int], bound: float, quality: int) -> pd.DataFrame:
    """Extract every video of ``rows``; a bad video is reported on one line and listed, the rest go on."""
    records = []
    for _, row in tqdm(rows.iterrows(), total=len(rows), desc="flow+pack", unit="video", file=sys.stderr):
        out = shard_path(shards_dir, row["video_id"])
        try:
            frames, nbytes = extract_video(row, backend, out, size=size, bound=bound, quality=quality)
            records.append((row["video_id"], str(out), frames, nbytes, "ok", ""))
        except VideoError as e:
            print(f"{row['path']}: {e}", file=sys.stderr)
            records.append((row["video_id"], "", 0, 0, "failed", str(e)))
    return pd.DataFrame(records, columns=INDEX_COLUMNS)


def merge_index(manifest: pd.DataFrame, chunks: list[pd.DataFrame], ingest_failures: pd.DataFrame
                ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(shard index, failures): manifest rows joined with their shards, and every failure by stage."""
    done = pd.concat(chunks, ignore_index=True) if chunks else pd.DataFrame(columns=INDEX_COLUMNS)
    ok = done[done["status"] == "ok"][["video_id", "shard", "frames", "bytes"]]
    index = manifest.drop(columns=["frames"]).merge(ok, on="video_id", how="inner")
    bad = done[done["status"] == "failed"]
    failures = pd.concat([
        ingest_failures,
        pd.DataFrame({"video": bad["video_id"], "stage": "flow+pack", "reason": bad["reason"]}),
    ], ignore_index=True)
    return index, failures
