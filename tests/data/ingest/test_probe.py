"""Probing in crash-isolated workers: a native decoder crash costs one video, never the dataset."""

from __future__ import annotations

import os

import pytest

from twostream.data.ingest import ingest
from twostream.data.ingest.probe import alias, opencv_safe, probe_all
from twostream.data.video import VideoInfo


@pytest.fixture
def crashing(tmp_path, put_video):
    """Good videos around one whose non-UTF-8 name makes OpenCV's VideoCapture segfault."""
    good = [put_video(tmp_path / f"good{i}.avi") for i in range(4)]
    bad = os.fsencode(tmp_path) + b"/bad\xff.avi"
    os.rename(put_video(tmp_path / "bad.avi"), bad)
    return good, os.fsdecode(bad)


@pytest.mark.parametrize("workers", [1, 2])
def test_a_worker_that_segfaults_is_replaced_and_the_rest_go_on(crashing, workers, tiny) -> None:
    good, bad = crashing
    results = probe_all([good[0], bad, *good[1:], bad], workers)
    assert results[1] == results[-1] == "decoder crashed (SIGSEGV)"
    kept = [results[0], *results[2:-1]]
    assert all(isinstance(r, VideoInfo) and r.frames == tiny["frames"] for r in kept)


def test_a_name_opencv_cannot_take_is_probed_through_a_safe_alias(crashing, tmp_path, tiny) -> None:
    _, bad = crashing
    assert not opencv_safe(bad) and not opencv_safe(tmp_path / "100%.avi") and opencv_safe(tmp_path / "ü.avi")
    link = alias(bad, tmp_path / "aliases")
    assert opencv_safe(link) and link.suffix == ".avi" and os.path.samefile(link, bad)
    assert alias(bad, tmp_path / "aliases") == link  # made once
    (result,) = probe_all([link])
    assert isinstance(result, VideoInfo) and result.frames == tiny["frames"]


def test_ingest_uses_the_alias_and_keeps_the_video(tmp_path, put_video) -> None:
    root = tmp_path / "videos"
    good = [f"run/good{k}" for k in range(4)]  # with the two below, 3 train and 3 test: each keeps a good one
    for name in good:
        put_video(root / f"{name}.avi")
    put_video(root / "run/50%.avi")
    os.rename(put_video(root / "run/x.avi"), os.fsencode(root) + b"/run/bad\xff.avi")
    manifest, failures = ingest("folder", root, seed=0, test_fraction=0.5, aliases=tmp_path / "aliases")
    assert failures.empty
    assert manifest["video_id"].tolist() == ["run/50%", "run/bad\\xff", *good]
    for path in manifest["path"]:
        assert opencv_safe(path) and os.path.exists(path)
    manifest, failures = ingest("folder", root, seed=0, test_fraction=0.5)  # no alias folder: listed as failures, the rest kept
    assert manifest["video_id"].tolist() == good
    assert failures["video"].tolist() == ["run/50%", "run/bad\\xff"]
    assert failures["reason"].str.contains("OpenCV cannot open").all()
