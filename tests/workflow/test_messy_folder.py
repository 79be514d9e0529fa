"""A messy folder-per-class tree through Snakemake: every decodable video in shards.csv, all else listed, exit 0."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import yaml
from smk import TINY, snakemake

from twostream.data.shards import Shard, video_id_of

pytestmark = pytest.mark.slow

KEPT = {  # video id -> class (every decodable video, whatever its name or folder)
    "run/good_00": "run", "run/good_01": "run", "wave/good_00": "wave", "wave/good_01": "wave",
    "run/nested/deep/good_00": "run", "run/dir.avi/inner": "run", "run/bad\\xff": "run", "run/100% pure": "run",
    "wave/UPPER": "wave", "wave/Mixed": "wave", "wave/other.mkv": "wave", "wave/other.webm": "wave",
    "wave/c": "wave", "wave/d": "wave", "wave/e": "wave", "run/truncated": "run",
}
LISTED = {  # failures.csv row -> reason fragment
    "stray.avi": "skipped: not in a class folder",
    "run/dir.avi": "skipped: a directory named like a video",
    "wave/broken.avi": "skipped: broken symbolic link",
    "run/linked": "skipped: symbolic link to a folder (not followed)",
    "run/notes.txt": "skipped: not a video file extension (.txt)",
    "wave/.DS_Store": "skipped: hidden file",
    "run/zero": "empty file (0 bytes)",
    "wave/image": "only 1 decodable frame",
    "wave/text": "cannot open",
    "run/good_00.mp4": "duplicate video id run/good_00",
}


def video(path: Path, frames: int = 8) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name("tmp_writer.avi")
    writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"FFV1"), 25, (32, 32))
    base = cv2.GaussianBlur((np.random.default_rng(len(str(path))).random((32, 32, 3)) * 255).astype(np.uint8), (0, 0), 2)
    for t in range(frames):
        writer.write(np.roll(base, t, axis=1))
    writer.release()
    os.replace(tmp, path)  # FFmpeg finds the container from the content, whatever the extension
    return path


def messy_tree(root: Path) -> None:
    for name in ("run/good_00.avi", "run/good_01.avi", "wave/good_00.avi", "wave/good_01.avi",
                 "run/nested/deep/good_00.avi", "run/dir.avi/inner.avi", "run/100% pure.avi", "wave/UPPER.AVI",
                 "wave/Mixed.Mp4", "wave/other.mkv.mkv", "wave/other.webm.webm", "wave/c.mov", "wave/d.m4v",
                 "wave/e.mpg", "stray.avi", "run/good_00.mp4"):
        video(root / name)
    os.rename(video(root / "run/x.avi"), os.fsencode(root) + b"/run/bad\xff.avi")  # not UTF-8
    data = video(root / "run/truncated.avi", 40).read_bytes()
    (root / "run/truncated.avi").write_bytes(data[:len(data) // 2])
    (root / "wave/broken.avi").symlink_to(root / "gone.avi")
    (root / "run/linked").symlink_to(root / "wave")
    (root / "run/notes.txt").write_text("not a video\n")
    (root / "wave/.DS_Store").write_bytes(b"\0\0")
    (root / "run/zero.avi").write_bytes(b"")
    ok, jpeg = cv2.imencode(".jpg", np.zeros((32, 32, 3), np.uint8))
    (root / "wave/image.avi").write_bytes(jpeg.tobytes())  # an image renamed .avi: frame count -2**63
    (root / "wave/text.mp4").write_text("this is not a video\n")


@pytest.fixture(scope="module")
def messy(tmp_path_factory) -> tuple[Path, object]:
    work = tmp_path_factory.mktemp("messy")
    messy_tree(work / "videos")
    config = yaml.safe_load(TINY.read_text())
    for paper in ("cmmp", "cma"):
        config.pop(paper)
    config["datasets"] = {"messy": {"kind": "folder", "root": "videos", "splits": [1], "size": [32, 32], "crop": 28}}
    config["flow"]["chunk_size"] = 5
    proc = snakemake(work, config, "results/messy/shards.csv", "results/messy/failures.csv")
    return work, proc


def test_every_decodable_video_is_in_the_shard_index_and_the_run_exits_0(messy) -> None:
    work, proc = messy
    assert proc.returncode == 0, proc.stderr[-4000:]
    index = pd.read_csv(work / "results/messy/shards.csv", keep_default_na=False)
    assert dict(zip(index["video_id"], index["class_name"])) == KEPT
    assert len(set(index["shard"])) == len(index)
    for _, row in index.iterrows():
        assert video_id_of(Path(row["shard"]).name) == row["video_id"]
        with Shard(work / row["shard"]) as shard:
            assert shard.attrs["video_id"] == row["video_id"] and shard.frames >= 8 or row["video_id"] == "run/truncated"


def test_everything_else_is_listed_with_its_reason(messy) -> None:
    work, _ = messy
    failures = pd.read_csv(work / "results/messy/failures.csv", keep_default_na=False)
    left_out = failures[~failures["reason"].str.startswith("truncated")].copy()
    left_out["video"] = left_out["video"].str.removeprefix(f"{work / 'videos'}/")  # duplicates: by full path
    assert sorted(left_out["video"]) == sorted(LISTED)
    for _, row in left_out.iterrows():
        assert LISTED[row["video"]] in row["reason"], row
    assert failures[failures["video"] == "run/truncated"]["reason"].str.contains("kept").all()


def test_an_impossible_frame_count_is_unknown_in_the_manifest(messy) -> None:
    work, _ = messy
    manifest = pd.read_csv(work / "results/messy/manifest.csv", keep_default_na=False).set_index("video_id")
    assert manifest.loc["wave/image", "frames"] == 0 and manifest.loc["run/good_00", "frames"] == 8
