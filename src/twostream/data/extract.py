"""Flow + pack for a chunk of videos: decode, resize, TV-L1, clip and quantise, write shards."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from tqdm import tqdm

from twostream.data.shards import ShardError, quantize_flow, remove_stale, verify, write_shard
from twostream.data.video import VideoError, read_frames
from twostream.flow import FlowBackend, normalize

INDEX_COLUMNS = ["video_id", "shard", "frames", "bytes", "status", "reason"]
TRUNCATED = 0.9  # fewer decodable frames than this share of the container's count: reported as truncated


def chunk_rows(manifest: pd.DataFrame, chunk: int, chunk_size: int) -> pd.DataFrame:
    """Rows [chunk * chunk_size, (chunk + 1) * chunk_size) of the manifest."""
    return manifest.iloc[chunk * chunk_size:(chunk + 1) * chunk_size]


def shard_path(shards_dir: str | os.PathLike, video_id: str) -> Path:
    return Path(shards_dir) / f"{video_id.replace(os.sep, '_')}.h5"


def extract_video(row: pd.Series, backend: FlowBackend, out: Path, *, size: tuple[int, int], bound: float,
                  quality: int, length: int = 5) -> tuple[int, int, str]:
    """Write one video's shard; returns (decoded frames, shard bytes, warning or '').

    Raises VideoError for videos that cannot be used (nothing decodes, a single frame).
    """
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
                  size: tuple[int, int], bound: float, quality: int, length: int = 5) -> pd.DataFrame:
    """Extract every video of ``rows``; a bad video is reported on one line and listed, the rest go on."""
    records = []
    for _, row in tqdm(rows.iterrows(), total=len(rows), desc="flow+pack", unit="video", file=sys.stderr):
        out = shard_path(shards_dir, row["video_id"])
        try:
            frames, nbytes, warning = extract_video(row, backend, out, size=size, bound=bound, quality=quality,
                                                    length=length)
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
