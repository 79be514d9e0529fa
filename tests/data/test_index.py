"""Merging chunk indexes: shards verified, failures by stage, a corrupted shard removed for the re-run."""

from __future__ import annotations

import numpy as np
import pandas as pd

from twostream.data.extract import INDEX_COLUMNS
from twostream.data.index import merge_index
from twostream.data.shards import quantize_flow, write_shard


def _row(video_id: str) -> dict:
    return {"video_id": video_id, "path": f"{video_id}.avi", "label": 2, "class_name": "C", "split1": "train",
            "frames": 10, "fps": 25.0, "width": 0, "height": 0}


def test_merge_index_lists_failures_and_removes_a_corrupted_shard_with_its_chunk(tmp_path) -> None:
    good, bad = tmp_path / "a.h5", tmp_path / "d.h5"
    for path in (good, bad):
        write_shard(path, np.zeros((9, 8, 8, 3), np.uint8), quantize_flow(np.zeros((8, 8, 8, 2))), {}, quality=90)
    bad.write_bytes(bad.read_bytes()[:500])  # truncated after indexing
    chunk_file = tmp_path / "0000.csv"
    chunk_file.write_text("kept until a shard of it is found corrupted\n")
    manifest = pd.DataFrame([_row(v) for v in "abcd"])
    chunk = pd.DataFrame([("a", str(good), 9, 0, 100, "ok", ""), ("b", "", 0, 0, 0, "failed", "broken"),
                          ("c", str(good), 9, 1, 100, "ok", "dropped 1 undecodable frame (number 4, from 1; kept...)"),
                          ("d", str(bad), 9, 0, 100, "ok", "")],
                         columns=INDEX_COLUMNS)
    ingest = pd.DataFrame([{"video": "e", "stage": "ingest", "reason": "missing file"}])
    index, failures = merge_index(manifest, {str(chunk_file): chunk}, ingest)
    assert index["video_id"].tolist() == ["a", "c"] and index.loc[0, "frames"] == 9
    assert index["frames_dropped"].tolist() == [0, 1]
    assert failures["video"].tolist() == ["e", "b", "c", "d"]
    assert failures.loc[3, "stage"] == "flow+pack" and f"removed with {chunk_file}" in failures.loc[3, "reason"]
    assert good.is_file() and not bad.exists() and not chunk_file.exists()  # the next run re-extracts the chunk
