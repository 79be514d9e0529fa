"""A messy folder-per-class tree through Snakemake: every decodable video in shards.csv, all else listed, exit 0.

Its root is named to break a shell (``Bob's "videos" $(touch pwned); x``): every path reaches the commands
quoted, and nothing in it is executed. Beside it a Kinetics dataset with one video not downloaded yet; a
re-run after a new clip and the late download uses both and keeps every shard already made.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import yaml
from smk import TINY, data_dir, job_counts, prepared, snakemake

from twostream import paths

from twostream.data.shards import Shard, video_id_of

pytestmark = pytest.mark.slow

ROOT = "Bob's \"videos\" $(touch pwned); x"  # quotes, a command substitution, a separator
LATE = {"aaaaaaaaaaa": "train", "bbbbbbbbbbb": "train", "ccccccccccc": "validate", "ddddddddddd": "validate",
        "eeeeeeeeeee": "train"}  # Kinetics rows (label abseiling); the last is downloaded after the first run

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


def kinetics(work: Path, ids: list[str]) -> None:
    """The Kinetics dataset: its annotation CSV (every row of LATE) and the videos of ``ids``."""
    (work / "late's list.csv").write_text("label,youtube_id,time_start,time_end,split\n" + "".join(
        f"abseiling,{yt},0,10,{split}\n" for yt, split in LATE.items()))
    for yt in ids:
        video(work / "kin" / "abseiling" / f"{yt}_000000_000010.avi")


def targets(config: dict) -> tuple[str, ...]:
    return (f"{data_dir(config, 'messy')}/shards.csv", f"{data_dir(config, 'messy')}/failures.csv",
            f"{data_dir(config, 'late')}/shards.csv")


@pytest.fixture(scope="module")
def messy(tmp_path_factory) -> tuple[Path, object, dict]:
    work = tmp_path_factory.mktemp("messy")
    messy_tree(work / ROOT)
    kinetics(work, list(LATE)[:4])
    config = yaml.safe_load(TINY.read_text())
    for paper in ("cmmp", "cma"):
        config.pop(paper)
    config["datasets"] = {
        "messy": {"kind": "folder", "root": ROOT, "splits": [1], "size": [32, 32], "crop": 28},
        "late": {"kind": "kinetics400", "root": "kin", "annotations": ["late's list.csv"], "splits": [1],
                 "size": [32, 32], "crop": 28},  # 4 of 5 listed videos there: min_present 0.8 is met
    }
    config["flow"]["chunk_size"] = 5
    proc = snakemake(work, config, *targets(config))
    return work, proc, config


def test_every_decodable_video_is_in_the_shard_index_and_the_run_exits_0(messy) -> None:
    work, proc, config = messy
    assert proc.returncode == 0, proc.stderr[-4000:]
    index = pd.read_csv(work / data_dir(config, "messy") / "shards.csv", keep_default_na=False)
    assert dict(zip(index["video_id"], index["class_name"])) == KEPT
    assert len(set(index["shard"])) == len(index)
    for _, row in index.iterrows():
        assert video_id_of(Path(row["shard"]).name) == row["video_id"]
        with Shard(work / row["shard"]) as shard:
            assert shard.attrs["video_id"] == row["video_id"] and shard.frames >= 8 or row["video_id"] == "run/truncated"


def test_everything_else_is_listed_with_its_reason(messy) -> None:
    work, _, config = messy
    failures = pd.read_csv(work / data_dir(config, "messy") / "failures.csv", keep_default_na=False)
    left_out = failures[~failures["reason"].str.startswith("truncated")].copy()
    left_out["video"] = left_out["video"].str.removeprefix(f"{work / ROOT}/")  # duplicates: by full path
    assert sorted(left_out["video"]) == sorted(LISTED)
    for _, row in left_out.iterrows():
        assert LISTED[row["video"]] in row["reason"], row
    assert failures[failures["video"] == "run/truncated"]["reason"].str.contains("kept").all()


def test_an_impossible_frame_count_is_unknown_in_the_manifest(messy) -> None:
    work, _, config = messy
    manifest = pd.read_csv(work / paths.manifest(prepared(config), "messy"), keep_default_na=False).set_index("video_id")
    assert manifest.loc["wave/image", "frames"] == 0 and manifest.loc["run/good_00", "frames"] == 8


def test_a_root_that_breaks_a_shell_is_quoted_and_nothing_in_it_runs(messy) -> None:
    work, proc, config = messy
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert not list(work.rglob("pwned")) and not Path("pwned").exists()
    videos = pd.read_csv(work / paths.manifest(prepared(config), "messy"))["path"]
    assert videos.str.startswith(f"{work / ROOT}/run/good_00.").any()


def test_each_datasets_summary_reaches_the_console_and_is_printed_again_at_the_end(messy) -> None:
    _, proc, config = messy
    expected = {  # 16 kept + the image renamed .avi (probes, fails in flow+pack); empty, text, duplicate; skipped
        "messy": ("20 videos listed, 17 used, 3 failed, 6 skipped", "16 of 17 ingested videos in shards (1 failed"),
        "late": ("5 videos listed, 4 used, 1 failed, 0 skipped", "4 of 4 ingested videos in shards (0 failed"),
    }
    for name, (ingested, indexed) in expected.items():
        lines = [line for line in proc.stdout.splitlines() if line.startswith(f"dataset {name!r}: ")]
        ingest = [line for line in lines if " videos listed, " in line]
        index = [line for line in lines if " ingested videos in shards " in line]
        assert len(ingest) == len(index) == 2, proc.stdout  # the job's line, and again at the run's end
        assert ingest[0] == ingest[1] == (f"dataset {name!r}: {ingested}; each in "
                                            f"{paths.ingest_dir(prepared(config), name)}/ingest_failures.csv")
        assert index[0] == index[1] and index[0].startswith(f"dataset {name!r}: {indexed} in flow+pack, ")
        assert index[0].endswith(f"each in {data_dir(config, name)}/failures.csv")


def test_new_videos_are_seen_by_the_rerun_and_every_shard_made_is_kept(messy) -> None:
    """A new clip in a class folder and a late Kinetics download: the re-run ingests again and uses both; the
    shards already made are not rewritten (extract keeps a shard of the same recipe)."""
    work, _, config = messy
    before = {p: p.stat().st_mtime_ns for p in (work / "shards").rglob("*.h5")}
    video(work / ROOT / "run" / "new_clip.avi")
    kinetics(work, ["eeeeeeeeeee"])
    dry = snakemake(work, config, *targets(config), "-n")
    assert job_counts(dry.stdout)["ingest"] == 2, dry.stdout
    assert "videos appeared and 0 disappeared" in dry.stderr
    proc = snakemake(work, config, *targets(config))
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "run/new_clip" in set(pd.read_csv(work / data_dir(config, "messy") / "shards.csv")["video_id"])
    assert "eeeeeeeeeee_000000_000010" in set(pd.read_csv(work / data_dir(config, "late") / "shards.csv")["video_id"])
    after = {p: p.stat().st_mtime_ns for p in (work / "shards").rglob("*.h5")}
    assert len(after) == len(before) + 2 and all(after[p] == t for p, t in before.items())
    again = snakemake(work, config, *targets(config), "-n")
    assert "Nothing to be done" in again.stdout + again.stderr  # the listing is unchanged: nothing re-runs
