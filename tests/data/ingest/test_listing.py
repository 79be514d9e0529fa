"""The listing of a dataset root that the ingest rule depends on: rewritten only when videos come or go."""

from __future__ import annotations

import os

from twostream.data.ingest.listing import refresh, video_names


def test_names_of_official_kinds_are_the_root_and_its_class_folders(tmp_path, put_video) -> None:
    for name in ("A/v1.avi", "A/v2.MP4", "flat.mp4", "A/deep/v3.avi", "A/.hidden.avi", "A/notes.txt"):
        put_video(tmp_path / name)
    assert video_names(tmp_path, "ucf101") == ["A/v1.avi", "A/v2.MP4", "flat.mp4"]
    assert video_names(tmp_path, "folder") == ["A/deep/v3.avi", "A/v1.avi", "A/v2.MP4", "flat.mp4"]


def test_the_file_changes_only_when_videos_come_or_go(tmp_path, put_video) -> None:
    root, out = tmp_path / "videos", tmp_path / "results" / "listing.txt"
    put_video(root / "A" / "v1.avi")
    assert refresh(root, "kinetics400", out) == (1, 0)
    stamp = out.stat().st_mtime_ns
    os.utime(out, ns=(stamp - 10**9, stamp - 10**9))
    assert refresh(root, "kinetics400", out) is None and out.stat().st_mtime_ns == stamp - 10**9  # not touched
    put_video(root / "A" / "v2.avi")
    (root / "A" / "v1.avi").unlink()
    assert refresh(root, "kinetics400", out) == (1, 1)
    assert out.read_text() == "A/v2.avi\n"
