"""mmaction2 file lists as a split definition for videos: ``<file> <label>`` lines, per split a train and a val list."""

from __future__ import annotations

import pytest

from twostream.data.ingest import IngestError, ingest


def test_video_lists_two_splits(tmp_path, put_video) -> None:
    for name in ("Run/a.avi", "Run/b.mp4", "Jump/c.avi"):
        put_video(tmp_path / "videos" / name)
    (tmp_path / "t1.txt").write_text("Run/a.avi 1\nJump/c.avi 0\n")
    (tmp_path / "v1.txt").write_text("Run/b.mp4 1\nRun/z.avi 1\n")
    (tmp_path / "t2.txt").write_text("Run/b.mp4 1\n")
    (tmp_path / "v2.txt").write_text("Run/a.avi 1\n../up.avi 0\n")
    manifest, failures = ingest("mmaction2", tmp_path / "videos", lists=[[tmp_path / "t1.txt", tmp_path / "v1.txt"],
                                                                          [tmp_path / "t2.txt", tmp_path / "v2.txt"]])
    assert manifest[["video_id", "label", "class_name", "split1", "split2"]].values.tolist() == [
        ["Jump/c", 0, "Jump", "train", ""], ["Run/a", 1, "Run", "train", "test"], ["Run/b", 1, "Run", "test", "train"]]
    reasons = dict(zip(failures["video"], failures["reason"]))
    assert reasons["Run/z"] == "missing file" and any("malformed line '../up.avi 0'" in r for r in reasons.values())


def test_lists_go_in_pairs_and_only_with_this_kind(tmp_path) -> None:
    (tmp_path / "t.txt").write_text("a.avi 0\n")
    with pytest.raises(IngestError, match="in pairs per split"):
        ingest("mmaction2", tmp_path, lists=[[tmp_path / "t.txt"]])
    with pytest.raises(IngestError, match="mmaction2 file lists are not used for folder"):
        ingest("folder", tmp_path, lists=[[tmp_path / "t.txt", tmp_path / "t.txt"]], seed=0, test_fraction=0.5)
