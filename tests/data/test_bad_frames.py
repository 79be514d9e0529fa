"""Decoding past a bad frame: every frame that decodes is kept, the dropped ones are counted and named.

The videos are real AVIs whose frame data is overwritten (``bad_frame_video``): OpenCV's ``read()``
returns False for those frames and then goes on, so stopping at the first failure (the old rule) lost
the rest of the video (or all of it, for a bad first frame).
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import pandas as pd
import pytest

from twostream.data import video
from twostream.data.decoding import decode
from twostream.data.extract import extract_chunk, extract_video
from twostream.data.ingest import ingest
from twostream.data.rawframes.export import export
from twostream.data.rawframes.resize import Resize
from twostream.data.rawframes.sources import Video
from twostream.data.rawframes.writer import Settings
from twostream.data.shards import Shard
from twostream.flow import get_backend

ALL = list(range(16))


def positions(path: Path) -> list[int]:
    return [position for position, _ in video.iter_frames(path, (24, 32))]


def test_opencv_fails_on_the_bad_frame_once_and_then_reads_on(bad_frame_video, tmp_path) -> None:
    """The premise: an MJPEG frame with bad data is one failed read, the next frames read."""
    cap = cv2.VideoCapture(str(bad_frame_video(tmp_path / "v.avi", bad=(5,))))
    reads = [cap.read()[0] for _ in range(16)]
    assert reads == [True] * 5 + [False] + [True] * 10


@pytest.mark.parametrize("bad", [(0,), (5,), (5, 6, 9), (15,)])
def test_every_frame_that_decodes_is_read(bad_frame_video, tmp_path, bad) -> None:
    path = bad_frame_video(tmp_path / "v.avi", bad=bad)
    assert positions(path) == [p for p in ALL if p not in bad]
    frames, grey, where = decode(str(path), (24, 32))
    assert frames.shape == (16 - len(bad), 24, 32, 3) and grey.shape == (16 - len(bad), 24, 32)
    assert where.tolist() == [p for p in ALL if p not in bad]
    assert video.dropped(where).tolist() == [p for p in bad if p < 15]  # a bad last frame is the end, not a gap


def test_a_bad_first_frame_does_not_make_the_video_undecodable(bad_frame_video, tmp_path) -> None:
    info = video.probe(bad_frame_video(tmp_path / "v.avi", bad=(0,)))
    assert (info.frames, info.width, info.height) == (16, 64, 48)


def test_a_bad_keyframe_costs_the_frames_that_depend_on_it(bad_frame_video, tmp_path) -> None:
    """FFV1 here has a keyframe every 12 frames: a bad 6th frame loses 6..12 (1-based), frames 13..16 decode."""
    path = bad_frame_video(tmp_path / "v.avi", bad=(5,), fourcc="FFV1")
    assert positions(path) == [0, 1, 2, 3, 4, 12, 13, 14, 15]


def test_failures_in_a_row_end_the_video(bad_frame_video, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(video, "MAX_FAILED_IN_A_ROW", 3)
    assert positions(bad_frame_video(tmp_path / "v.avi", bad=(5,), fourcc="FFV1")) == [0, 1, 2, 3, 4]


def test_the_dropped_frames_are_described_by_number() -> None:
    assert video.describe_dropped([5], 15) == "dropped 1 undecodable frame (number 6, from 1; kept: the 15 that decode)"
    assert video.describe_dropped([0, 5, 6, 7, 9], 11) == (
        "dropped 5 undecodable frames (number 1, 6-8, 10, from 1; kept: the 11 that decode)")
    assert "and 2 more runs" in video.describe_dropped(list(range(0, 14, 2)), 7)


def _row(path: Path, video_id: str) -> dict:
    return {"video_id": video_id, "path": str(path), "label": 0, "class_name": "A", "split1": "train",
            "frames": 16, "fps": 25.0, "width": 64, "height": 48}


@pytest.fixture(scope="module")
def bad_videos(tmp_path_factory, bad_frame_video) -> pd.DataFrame:
    folder = tmp_path_factory.mktemp("bad_frames")
    made = {"first": bad_frame_video(folder / "first.avi", bad=(0,)),
            "middle": bad_frame_video(folder / "middle.avi", bad=(5,)),
            "keyframe": bad_frame_video(folder / "keyframe.avi", bad=(5,), fourcc="FFV1"),
            "clean": bad_frame_video(folder / "clean.avi", bad=())}
    return pd.DataFrame([_row(path, name) for name, path in made.items()])


EXPECTED = {"clean": (16, [], ""), "first": (15, [0], "number 1,"), "middle": (15, [5], "number 6,"),
            "keyframe": (9, list(range(5, 12)), "dropped 7 undecodable frames (number 6-12,")}


def test_extract_keeps_the_frames_that_decode_and_records_the_dropped(bad_videos, tmp_path, capsys) -> None:
    backend = get_backend("opencv-cpu")
    for run in ("first", "again"):  # the second run keeps the shards and reports the same
        index = extract_chunk(bad_videos, backend, tmp_path / "shards", size=(24, 32), bound=20, quality=90, length=5,
                              workers=1).set_index("video_id")
        err = capsys.readouterr().err
        for name, (frames, lost, note) in EXPECTED.items():
            row = index.loc[name]
            assert row["status"] == "ok" and row["frames"] == frames and row["frames_dropped"] == len(lost)
            assert note in row["reason"] and (not note or note in err)
            with Shard(row["shard"]) as shard:
                assert shard.frames == frames and json.loads(shard.attrs["frames_dropped"]) == lost


def test_the_serial_extractor_follows_the_same_rule(bad_videos, tmp_path) -> None:
    row = bad_videos.set_index("video_id", drop=False).loc["middle"]
    frames, _, warning = extract_video(row, get_backend("opencv-cpu"), tmp_path / "m.h5", size=(24, 32), bound=20,
                                       quality=90, length=5)
    assert frames == 15 and "dropped 1 undecodable frame (number 6," in warning


def test_ingest_keeps_a_video_whose_first_frame_is_bad(bad_frame_video, tmp_path) -> None:
    bad_frame_video(tmp_path / "root" / "A" / "v1.avi", bad=(0,))
    bad_frame_video(tmp_path / "root" / "A" / "v2.avi", bad=())
    manifest, failures = ingest("folder", tmp_path / "root", seed=0, test_fraction=0.5)
    assert sorted(manifest["video_id"]) == ["A/v1", "A/v2"] and failures.empty


@pytest.mark.parametrize("step", [1, 2])  # 1: the pipeline's core; 2: decoded here, one video at a time
def test_rawframes_number_the_frames_that_decode_and_record_the_dropped(bad_videos, tmp_path, step) -> None:
    videos = [Video(r.video_id, r.path, 0, "A") for r in bad_videos.itertuples()]
    settings = Settings(step=step, bound=20.0, quality=90, resize=Resize(0, 0, 0))
    done, failures = export(videos, tmp_path / "out", backend=get_backend("opencv-cpu"), settings=settings,
                                      workers=1)
    done = done.set_index("video_id")
    notes = {Path(v).stem: reason for v, _, reason in failures}
    for name, (frames, lost, note) in EXPECTED.items():
        folder = tmp_path / "out" / name
        assert done.loc[name, "frames"] == frames and done.loc[name, "frames_dropped"] == len(lost)
        assert sorted(p.name for p in folder.glob("img_*")) == [f"img_{t:05d}.jpg" for t in range(1, frames + 1)]
        assert json.loads((folder / ".done").read_text())["frames_dropped"] == lost
        assert (note in notes.get(name, "")) and (name in notes) == bool(lost)
