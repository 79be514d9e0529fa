"""Manifests of rawframes trees: each kind's split definition, folders flat or two-level, the naming detected."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from twostream.data.ingest import IngestError, Subset
from twostream.data.rawframes.catalog import rawframes_manifest

JPEG = cv2.imencode(".jpg", np.zeros((12, 16, 3), np.uint8))[1].tobytes()
GREY = cv2.imencode(".jpg", np.zeros((12, 16), np.uint8))[1].tobytes()


def folder(path: Path, frames: int = 4, start: int = 0, rgb: str = "img_{:05d}.jpg",
           flow: str = "flow_{}_{:05d}.jpg") -> Path:
    """A video folder of tiny frames and flow as the templates name them."""
    for t in range(start, start + frames):
        for name, data in [(rgb.format(t), JPEG)] + ([(flow.format(a, t), GREY) for a in "xy"]
                                                     if t < start + frames - 1 else []):
            (path / name).parent.mkdir(parents=True, exist_ok=True)
            (path / name).write_bytes(data)
    return path


def test_ucf101_split_files_over_two_level_and_flat_folders(shared_data, tmp_path) -> None:
    splits = shared_data / "splits" / "ucf101"
    folder(tmp_path / "ApplyEyeMakeup" / "v_ApplyEyeMakeup_g01_c01", 5)
    folder(tmp_path / "v_ApplyEyeMakeup_g08_c01", 3)  # flat: found as well
    folder(tmp_path / "YoYo" / "v_YoYo_g25_c05", 4, start=1)  # numbered from 1: not this dataset's naming
    manifest, failures, naming = rawframes_manifest("ucf101", tmp_path, splits_dir=splits)
    assert (naming.rgb.text, naming.flow.text, naming.rgb_start) == ("img_{:05d}.jpg", "flow_{}_{:05d}.jpg", 0)
    assert manifest["video_id"].tolist() == ["v_ApplyEyeMakeup_g01_c01", "v_ApplyEyeMakeup_g08_c01"]
    assert manifest["frames"].tolist() == [5, 3] and manifest["label"].tolist() == [0, 0]
    assert manifest[["split1", "width", "height", "fps"]].values.tolist() == [["test", 16, 12, 0.0],
                                                                               ["train", 16, 12, 0.0]]
    reasons = dict(zip(failures["video"], failures["reason"]))
    assert reasons["v_YoYo_g25_c05"] == "no img_00000.jpg (frames numbered from 1)"
    assert reasons["v_YoYo_g01_c01"].startswith("missing folder (looked for ")
    assert len(failures) == 13320 - 2


def test_mmaction2_lists_with_a_classes_file_or_class_folders(tmp_path) -> None:
    root = tmp_path / "rawframes"
    ids = ["Run/a", "Run/b", "Jump/c", "Jump/d"]
    for vid in ids:
        folder(root / vid, 6, start=1, rgb="img_{:05d}.jpg", flow="{}_{:05d}.jpg")
    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / "train.txt").write_text("Run/a 6 1\nJump/c 6 0\n")
    (lists / "val.txt").write_text("Run/b 6 1\nJump/d 6 0\nJump/e 6 0\nbad line\n")
    manifest, failures, naming = rawframes_manifest("mmaction2", root, lists=[[lists / "train.txt", lists / "val.txt"]])
    assert (naming.flow.text, naming.rgb_start, naming.flow_start) == ("{}_{:05d}.jpg", 1, 1)
    assert manifest[["video_id", "label", "class_name", "split1", "frames"]].values.tolist() == [
        ["Jump/c", 0, "Jump", "train", 6], ["Jump/d", 0, "Jump", "test", 6],
        ["Run/a", 1, "Run", "train", 6], ["Run/b", 1, "Run", "test", 6]]
    assert sorted(failures["reason"].str[:14]) == ["malformed line", "missing folder"]
    (lists / "classes.txt").write_text("0 jumping\n1 running\n")
    manifest, _, _ = rawframes_manifest("mmaction2", root, lists=[[lists / "train.txt", lists / "val.txt"]],
                                        classes=lists / "classes.txt")
    assert manifest["class_name"].tolist() == ["jumping", "jumping", "running", "running"]


def test_a_subset_of_mmaction2_lists_keeps_the_full_labels(tmp_path) -> None:
    """A trial (``datasets.<d>.subset``) of a rawframes tree: the classes and per-class counts as for videos."""
    root = tmp_path / "rawframes"
    for vid in ["Jump/c", "Jump/d", "Jump/f", "Run/a", "Run/b"]:
        folder(root / vid, 3)
    (tmp_path / "train.txt").write_text("Run/a 3 1\nJump/c 3 0\nJump/f 3 0\n")
    (tmp_path / "val.txt").write_text("Run/b 3 1\nJump/d 3 0\n")
    lists = [[tmp_path / "train.txt", tmp_path / "val.txt"]]
    manifest, _, _ = rawframes_manifest("mmaction2", root, lists=lists, splits=[1], subset=Subset(("Run",), 1))
    assert manifest[["video_id", "label", "split1"]].values.tolist() == [["Run/a", 1, "train"], ["Run/b", 1, "test"]]
    assert manifest["subset"].unique().tolist() == ['{"classes":["Run"],"per_class":1}']
    manifest, _, _ = rawframes_manifest("mmaction2", root, lists=lists, subset=Subset(None, 1))
    assert manifest["video_id"].tolist() == ["Jump/c", "Jump/d", "Run/a", "Run/b"]


def test_folder_kind_with_templates_in_sub_folders(tmp_path) -> None:
    for cls in ("A", "B"):
        for v in range(3):
            folder(tmp_path / cls / f"{cls}{v}", 4, rgb="img/{:06d}.jpg", flow="{}/{:06d}.jpg")
    with pytest.raises(IngestError, match="no flow images"):  # each sub-folder taken for a video
        rawframes_manifest("folder", tmp_path, seed=0, test_fraction=0.34)
    manifest, failures, naming = rawframes_manifest("folder", tmp_path, rgb="img/{:06d}.jpg", flow="{}/{:06d}.jpg",
                                                    seed=0, test_fraction=0.34)
    assert naming.rgb_start == 0 and failures.empty
    assert manifest["video_id"].tolist() == ["A/A0", "A/A1", "A/A2", "B/B0", "B/B1", "B/B2"]
    assert manifest.groupby("class_name")["split1"].apply(lambda s: sorted(s)).tolist() == [
        ["test", "train", "train"]] * 2


def test_kinetics_flat_folders(tmp_path) -> None:
    csv = tmp_path / "val.csv"
    csv.write_text("label,youtube_id,time_start,time_end,split\nabseiling,abc,5,15,val\nzumba,xyz,0,10,train\n")
    folder(tmp_path / "rawframes" / "abc_000005_000015", 3)
    folder(tmp_path / "rawframes" / "zumba" / "xyz_000000_000010", 3)
    manifest, failures, _ = rawframes_manifest("kinetics400", tmp_path / "rawframes", annotations=[csv])
    assert manifest[["video_id", "label", "split1"]].values.tolist() == [["abc_000005_000015", 0, "test"],
                                                                         ["xyz_000000_000010", 1, "train"]]


def test_no_folders_or_no_naming_is_an_error_that_says_where(tmp_path) -> None:
    lists = tmp_path / "l.txt"
    lists.write_text("v 3 0\n")
    (tmp_path / "raw").mkdir()
    with pytest.raises(IngestError, match="no video folders found"):
        rawframes_manifest("mmaction2", tmp_path / "raw", lists=[[lists, lists]])
    for flow in folder(tmp_path / "raw" / "v", 3).glob("flow_*"):  # frames only
        flow.unlink()
    with pytest.raises(IngestError, match="no flow images found.*file names of v"):
        rawframes_manifest("mmaction2", tmp_path / "raw", lists=[[lists, lists]])
