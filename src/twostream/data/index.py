"""A dataset's shard index: the chunk indexes merged with the manifest, every shard read back and verified."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from twostream.data.extract import INDEX_COLUMNS
from twostream.data.shards import ShardError, verify


def verify_shards(done: pd.DataFrame) -> pd.DataFrame:
    """Read back every shard of the chunk indexes; a corrupted or missing one becomes a failure.

    A corrupted shard is removed together with its chunk index, so that the next run of the
    workflow re-extracts that chunk (keeping its intact shards) and rebuilds it (``twostream index``
    then fails, so that Snakemake does not keep an index without it).
    """
    done = done.copy()
    for i in tqdm(done.index[done["status"] == "ok"], desc="verify shards", unit="shard", file=sys.stderr):
        shard, chunk = done.at[i, "shard"], done.at[i, "chunk"]
        try:
            verify(shard)
        except ShardError as e:
            _remove(shard, chunk)
            reason = f"{e} (removed with {chunk}: the next run rebuilds it)"
            print(f"{done.at[i, 'video_id']}: {reason}", file=sys.stderr)
            done.loc[i, ["status", "reason"]] = ["failed", reason]
    return done


def _remove(*paths: str | os.PathLike) -> None:
    for path in paths:
        try:
            Path(path).unlink(missing_ok=True)
        except OSError as e:  # e.g. a read-only folder: the message above still says what to delete
            print(f"{path}: cannot remove ({e.strerror}); delete it by hand", file=sys.stderr)


def merge_index(manifest: pd.DataFrame, chunks: dict[str, pd.DataFrame], ingest_failures: pd.DataFrame,
                stage: str = "flow+pack") -> tuple[pd.DataFrame, pd.DataFrame]:
    """(shard index, failures) from the manifest and the chunk indexes (by file name), shards verified.

    The failures table lists, by stage, videos left out and videos kept with a warning; ``stage`` names the
    chunks' (``flow+pack``, or ``import`` for a rawframes dataset).
    """
    frames = [df.assign(chunk=name) for name, df in chunks.items()]
    frames = [df if "frames_dropped" in df else df.assign(frames_dropped=0) for df in frames]  # chunks of older runs
    done = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=INDEX_COLUMNS + ["chunk"])
    done = verify_shards(done)
    ok = done[done["status"] == "ok"][["video_id", "shard", "frames", "frames_dropped", "bytes"]]
    index = manifest.drop(columns=["frames"]).merge(ok, on="video_id", how="inner")
    noted = done[(done["status"] == "failed") | (done["reason"] != "")]
    failures = pd.concat([
        ingest_failures,
        pd.DataFrame({"video": noted["video_id"], "stage": stage, "reason": noted["reason"]}),
    ], ignore_index=True)
    return index, failures
