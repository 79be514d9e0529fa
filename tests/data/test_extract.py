"""Flow + pack on real clips: shard contents, frame counts, bad videos, index merge."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from twostream.data.extract import INDEX_COLUMNS, chunk_rows, extract_chunk
from twostream.data.shards import Shard, dequantize_flow
from twostream.data.video import read_frames
from twostream.flow import get_backend


def _row(path, video_id="v", frames=0) -> dict:
    return {"video_id": video_id, "path": str(path), "label": 2, "class_name": "C", "split1": "train",
            "frames": frames, "fps": 25.0, "width": 0, "height": 0}


def test_chunk_rows() -> None:
    df = pd.DataFrame({"video_id": list("abcdefg")})
    assert chunk_rows(df, 1, 3)["video_id"].tolist() == list("def")
    assert chunk_rows(df, 2, 3)["video_id"].tolist() == ["g"]


def test_real_clip_to_shard(shared_data, tmp_path) -> None:
    clip = shared_data / "clips/ucf101/ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi"
    short = tmp_path / "short.avi"
    import cv2

    frames = read_frames(clip, (48, 64))[:7]
    writer = cv2.VideoWriter(str(short), cv2.VideoWriter_fourcc(*"FFV1"), 25, (64, 48))
    for f in frames:
        writer.write(f)
    writer.release()
    rows = pd.DataFrame([_row(short, "short")])
    index = extract_chunk(rows, get_backend("opencv-cpu"), tmp_path / "shards", size=(48, 64), bound=20, quality=90, length=5)
    assert list(index.columns) == INDEX_COLUMNS
    assert index.loc[0, "status"] == "ok" and index.loc[0, "frames"] == 7
    with Shard(index.loc[0, "shard"]) as s:
        assert s.frames == 7 and s.attrs["flow_backend"] == "opencv-cpu" and s.attrs["flow_bound"] == 20
        assert s.attrs["label"] == 2 and s.attrs["flow_params"]["tau"] == pytest.approx(0.25)
        flow = dequantize_flow(s.flow(0, 6))
        assert flow.shape == (6, 48, 64, 2) and np.abs(flow).max() <= 1
        assert np.abs(s.rgb(3).astype(int) - frames[3][..., ::-1]).mean() < 4


def test_full_clip_frame_count(shared_data, tmp_path) -> None:
    """HMDB's walk clip lists 258 frames in its header but decodes 257; the shard stores what decodes."""
    clip = shared_data / "clips/hmdb51/drink/50_FIRST_DATES_drink_u_nm_np1_fr_goo_29.mp4"
    frames = len(read_frames(clip, (16, 16)))
    assert frames == 48


def test_bad_videos_are_listed_and_the_rest_goes_on(tmp_path, capsys) -> None:
    empty = tmp_path / "empty.avi"
    empty.write_bytes(b"")
    text = tmp_path / "text.mp4"
    text.write_text("not a video")
    rows = pd.DataFrame([_row(empty, "empty"), _row(text, "text"), _row(tmp_path / "gone.avi", "gone")])
    index = extract_chunk(rows, get_backend("opencv-cpu"), tmp_path / "shards", size=(16, 16), bound=20, quality=90, length=5)
    assert index["status"].tolist() == ["failed"] * 3
    assert "empty file" in index.loc[0, "reason"] and "file not found" in index.loc[2, "reason"]
    err = capsys.readouterr().err
    assert f"{empty}: empty file" in err


def test_a_shard_made_by_the_same_recipe_is_kept_and_any_change_rebuilds_it(tmp_path, capsys) -> None:
    """Re-running a chunk (e.g. after a split-file edit) keeps intact shards; new settings or a damaged shard rebuild."""
    import cv2

    video = tmp_path / "v.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"FFV1"), 25, (16, 16))
    for i in range(8):
        writer.write(np.full((16, 16, 3), 30 * i, np.uint8))
    writer.release()
    rows = pd.DataFrame([_row(video, "v")])
    backend = get_backend("opencv-cpu")

    def run(bound: float = 20, code: str = "a") -> tuple[int, int]:
        index = extract_chunk(rows, backend, tmp_path / "shards", size=(16, 16), bound=bound, quality=90, length=5, code=code)
        assert index.loc[0, "status"] == "ok" and index.loc[0, "frames"] == 8
        return Path(index.loc[0, "shard"]).stat().st_mtime_ns, Path(index.loc[0, "shard"]).stat().st_ino

    first = run()
    assert run() == first
    changed = run(bound=10)
    assert changed != first
    assert run(bound=10, code="b") != changed
    shard = tmp_path / "shards" / "v.h5"
    shard.write_bytes(shard.read_bytes()[: shard.stat().st_size // 2])  # truncated
    damaged = shard.stat().st_mtime_ns
    assert run(bound=10, code="b")[0] != damaged
    with Shard(shard) as s:
        assert s.frames == 8
