"""Every kind of bad input: a one-line message naming the video, a row in failures.csv, the run goes on.

The dataset is built in UCF-101's layout and goes through the commands the rules run
(ingest, extract, index). Videos that are odd but usable (short, truncated, greyscale,
odd or huge sizes, variable frame rate, unusual names) are kept and sampled by the
documented rules; the others are left out.
"""

from __future__ import annotations

import subprocess
import tracemalloc

import cv2
import h5py
import numpy as np
import pandas as pd
import pytest
from specs import extraction

from twostream.cli import main
from twostream.data.shards import Shard
from twostream.data.video import read_frames

ffmpeg = pytest.importorskip("imageio_ffmpeg", reason="imageio-ffmpeg (test extra) makes the variable-frame-rate clip")


def write(path, frames: int, size=(48, 64), colour=True, fourcc="FFV1") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    h, w = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), 25, (w, h), isColor=colour)
    ramp = np.linspace(0, 255, w, dtype=np.float32)[None, :]
    for t in range(frames):
        img = ((np.roll(ramp, 2 * t, axis=1) + np.linspace(0, 60, h)[:, None]) % 256).astype(np.uint8)
        writer.write(img if not colour else np.dstack([img, 255 - img, img // 2]))
    writer.release()


def vfr(path, frames: int = 30) -> None:
    """A clip whose frames come 40 ms apart, then 120 ms apart (variable frame rate)."""
    setpts = "setpts='if(lt(N,15),N,15+(N-15)*3)/25/TB'"
    subprocess.run([ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=64x48:rate=25",
                    "-frames:v", str(frames), "-vf", setpts, "-fps_mode", "vfr", "-c:v", "mpeg4", str(path)], check=True)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory, bad_frame_video):
    root = tmp_path_factory.mktemp("bad")
    videos = root / "videos"
    bad_frame_video(videos / "A/v_badframe.avi", bad=(5,))
    bad_frame_video(videos / "A/v_badfirst.avi", bad=(0,))
    write(videos / "A/v_good.avi", 8)
    write(videos / "A/v_good2.avi", 8)
    (videos / "A/v_zero.avi").write_bytes(b"")
    write(videos / "A/v_truncated.avi", 40)
    data = (videos / "A/v_truncated.avi").read_bytes()
    (videos / "A/v_truncated.avi").write_bytes(data[: len(data) // 2])
    (videos / "A/v_text.mp4").write_text("this is not a video\n")
    write(videos / "A/v_one.avi", 1)
    write(videos / "A/v_dup.avi", 8)
    write(videos / "A/v_dup.mp4", 8)
    write(videos / "B/v_short.avi", 4)
    write(videos / "B/v_grey.avi", 8, colour=False)
    write(videos / "B/v_odd.avi", 8, size=(239, 321))
    write(videos / "B/v_large.avi", 6, size=(2160, 3840), fourcc="MJPG")
    vfr(videos / "B/v_vfr.mp4")
    write(videos / "B/v_name with spaces ü.avi", 8)
    splits = root / "splits"
    splits.mkdir()
    (splits / "classInd.txt").write_bytes(b"1 A\r\n2 B\r\n")
    listed = ["A/v_good.avi 1", "A/v_good2.avi 1", "A/v_zero.avi 1", "A/v_truncated.avi 1", "A/v_text.mp4 1",
              "A/v_one.avi 1", "A/v_dup.avi 1", "A/v_badframe.avi 1", "A/v_badfirst.avi 1", "A/v_missing.avi 1", "B/v_short.avi 2",
              "B/v_grey.avi 2", "B/v_odd.avi 2", "B/v_large.avi 2", "B/v_vfr.mp4 2", "B/v_name with spaces ü.avi 2"]
    for k in (1, 2, 3):
        lines = listed + (["C/v_unknown.avi 3"] if k == 1 else [])  # a class absent from classInd.txt
        (splits / f"trainlist0{k}.txt").write_bytes(("\r\n".join(lines) + "\r\n").encode())
        (splits / f"testlist0{k}.txt").write_bytes(b"")
    return root


@pytest.fixture(scope="module")
def run(dataset, tmp_path_factory):
    """ingest -> extract (2 chunks) -> corrupt one shard -> index, as the rules run them."""
    out = tmp_path_factory.mktemp("out")
    err = {}
    capture = pytest.MonkeyPatch()
    import io
    import sys

    def cli(name, *args, rc=0):
        buf = io.StringIO()
        capture.setattr(sys, "stderr", buf)
        assert main(list(args)) == rc
        capture.undo()
        err[name] = buf.getvalue()

    cli("ingest", "ingest", "--kind", "ucf101", "--root", str(dataset / "videos"), "--splits-dir", str(dataset / "splits"),
        "--out", str(out / "manifest.csv"), "--failures", str(out / "ingest_failures.csv"))
    for chunk in (0, 1):
        cli(f"extract{chunk}", "extract", "--spec", extraction(7, (32, 32)), "--manifest", str(out / "manifest.csv"),
            "--chunk", str(chunk), "--shards", str(out / "shards"), "--threads", "1",
            "--out", str(out / f"chunk{chunk}.csv"))
    good2 = out / "shards/v_good2.h5"
    with h5py.File(good2) as f:
        offset = f["flow/bytes"].id.get_chunk_info(0).byte_offset
    data = bytearray(good2.read_bytes())
    data[offset + 200:offset + 300] = bytes(100)  # damage flow bytes after extraction
    good2.write_bytes(bytes(data))
    cli("index", "index", "--dataset", "bad", "--manifest", str(out / "manifest.csv"), "--ingest-failures", str(out / "ingest_failures.csv"),
        "--chunks", str(out / "chunk0.csv"), str(out / "chunk1.csv"), "--out", str(out / "shards.csv"),
        "--failures", str(out / "failures.csv"), rc=1)  # 1: a corrupted shard was removed, run again to rebuild
    assert not good2.exists() and not (out / "chunk0.csv").exists() and (out / "chunk1.csv").exists()
    failures = pd.read_csv(out / "failures.csv", keep_default_na=False)
    index = pd.read_csv(out / "shards.csv", keep_default_na=False)
    return failures, index, "".join(err.values())


EXPECTED = {  # video -> (stage, reason fragment, kept in the shard index?)
    "v_zero": ("ingest", "empty file", False),
    "v_text": ("ingest", "cannot open", False),
    "v_missing": ("ingest", "missing file", False),
    "v_unknown": ("ingest", "unknown class 'C'", False),
    "v_one": ("flow+pack", "only 1 decodable frame", False),
    "v_good2": ("flow+pack", "delete it and re-run", False),
    "v_truncated": ("flow+pack", "of 40 frames decode (kept", True),
    "v_short": ("flow+pack", "short: 4 frames", True),
    "v_badframe": ("flow+pack", "dropped 1 undecodable frame (number 6, from 1; kept: the 15", True),
    "v_badfirst": ("flow+pack", "dropped 1 undecodable frame (number 1, from 1; kept: the 15", True),
}


@pytest.mark.parametrize("video", sorted(EXPECTED))
def test_bad_video_is_listed_with_its_reason(run, video) -> None:
    failures, index, stderr = run
    stage, reason, kept = EXPECTED[video]
    rows = failures[failures["video"] == video]
    assert len(rows) == 1, failures
    assert rows.iloc[0]["stage"] == stage and reason in rows.iloc[0]["reason"]
    assert (video in set(index["video_id"])) == kept
    lines = [line for line in stderr.splitlines() if video in line and reason in line]
    assert len(lines) == 1  # one line, naming the video and the reason


def test_duplicate_id_keeps_one(run) -> None:
    failures, index, _ = run
    dup = failures[failures["reason"].str.startswith("duplicate video id v_dup")]
    assert len(dup) == 1 and dup.iloc[0]["video"].endswith("v_dup.mp4")
    assert (index["video_id"] == "v_dup").sum() == 1


def test_odd_but_usable_videos_are_kept(run) -> None:
    failures, index, _ = run
    frames = dict(zip(index["video_id"], index["frames"]))
    assert 0 < frames.pop("v_truncated") < 40 / 2 + 1
    assert {v: int(n) for v, n in zip(index["video_id"], index["frames_dropped"]) if n} == {"v_badframe": 1,
                                                                                            "v_badfirst": 1}
    assert frames.pop("v_badframe") == frames.pop("v_badfirst") == 15
    assert frames == {"v_good": 8, "v_dup": 8, "v_short": 4, "v_grey": 8, "v_odd": 8, "v_large": 6, "v_vfr": 30,
                      "v_name with spaces ü": 8}
    for _, row in index.iterrows():
        with Shard(row["shard"]) as s:
            assert s.rgb(0).shape == (32, 32, 3) and s.flow(0, 5).shape == (5, 32, 32, 2)
    assert not set(failures["video"]) & {"v_grey", "v_odd", "v_large", "v_vfr", "v_name with spaces ü"}


def test_greyscale_video_gives_grey_rgb(run) -> None:
    _, index, _ = run
    with Shard(index.set_index("video_id").loc["v_grey", "shard"]) as s:
        frame = s.rgb(2).astype(int)
    assert np.abs(frame[..., 0] - frame[..., 1]).max() <= 2


def test_huge_frames_are_resized_one_at_a_time(dataset) -> None:
    tracemalloc.start()
    frames = read_frames(dataset / "videos/B/v_large.avi", (64, 64))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert frames.shape == (6, 64, 64, 3)
    assert peak < 2 * 3840 * 2160 * 3  # never more than about one full-size frame at a time
