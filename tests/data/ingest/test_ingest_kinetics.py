"""Kinetics-400 ingest from official-format CSVs, with the real demo clip renamed as a Kinetics file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from twostream.data.ingest import IngestError, ingest

HEADER = "label,youtube_id,time_start,time_end,split\n"


@pytest.fixture(scope="module")
def demo(shared) -> Path:
    return shared("clips", "kinetics400", "arm_wrestling", "demo.mp4")


def write_csvs(folder: Path) -> list[Path]:
    """train.csv, validate.csv and an unlabelled test.csv in the official format."""
    train, validate, test = folder / "train.csv", folder / "validate.csv", folder / "test.csv"
    train.write_text(HEADER + "arm wrestling,ab-CD_ef12G,10,20,train\nabseiling,notOnDisk01,0,10,train\n")
    validate.write_text(
        HEADER + '"arm wrestling",valClip0001,5,15,validate\n"arm wrestling",badTimes001,x,15,val\n'
    )
    test.write_text("youtube_id,time_start,time_end,split\nhidden00001,0,10,test\n")
    return [train, validate, test]


@pytest.mark.parametrize(
    "folder", ["arm wrestling", "arm_wrestling", ""], ids=["label", "underscores", "flat"]
)
def test_renamed_real_clip_is_found_in_each_layout(tmp_path, demo, folder):
    root = tmp_path / "videos"
    (root / folder).mkdir(parents=True)
    shutil.copy(demo, root / folder / "ab-CD_ef12G_000010_000020.mp4")
    shutil.copy(demo, root / "valClip0001_000005_000015.mp4")  # flat beside any layout
    csvs = write_csvs(tmp_path)
    manifest, failures = ingest("kinetics400", root, annotations=csvs)
    assert list(manifest.columns) == [
        "video_id",
        "path",
        "label",
        "class_name",
        "split1",
        "frames",
        "fps",
        "width",
        "height",
    ]
    assert list(manifest.video_id) == ["ab-CD_ef12G_000010_000020", "valClip0001_000005_000015"]
    assert list(manifest.path) == [
        str(root / folder / "ab-CD_ef12G_000010_000020.mp4"),
        str(root / "valClip0001_000005_000015.mp4"),
    ]
    assert list(manifest.class_name) == ["arm wrestling"] * 2
    assert list(manifest.label) == [1, 1]  # sorted labels: abseiling, arm wrestling
    assert list(manifest.split1) == ["train", "test"]
    assert list(manifest[["frames", "fps", "width", "height"]].iloc[0]) == [280, 28.0, 340, 256]
    assert list(failures.video) == [f"{csvs[1]}:3", "notOnDisk01_000000_000010"]
    assert failures.reason[0].startswith("malformed row: times 'x', '15'")
    assert failures.reason[1] == "missing file"


def test_clip_in_another_class_folder_is_not_matched(tmp_path, demo):
    root = tmp_path / "videos"
    (root / "abseiling").mkdir(parents=True)
    shutil.copy(demo, root / "abseiling" / "ab-CD_ef12G_000010_000020.mp4")
    manifest, failures = ingest("kinetics400", root, annotations=write_csvs(tmp_path)[:1])
    assert manifest.empty
    assert "ab-CD_ef12G_000010_000020" in set(failures.video)


def test_unknown_split_value_is_a_malformed_row(tmp_path):
    csv = tmp_path / "train.csv"
    csv.write_text(HEADER + "abseiling,someClip001,0,10,training\n")
    manifest, failures = ingest("kinetics400", tmp_path, annotations=[csv])
    assert manifest.empty
    assert list(failures.video) == [f"{csv}:2"]
    assert failures.reason[0].startswith("malformed row: split 'training'")


def test_csv_without_required_columns_is_an_error_naming_it(tmp_path):
    csv = tmp_path / "train.csv"
    csv.write_text("label,youtube_id,split\nabseiling,someClip001,train\n")
    with pytest.raises(IngestError, match=f"time_start, time_end: {csv}"):
        ingest("kinetics400", tmp_path, annotations=[csv])


def test_missing_annotation_csv_is_an_error_naming_it(tmp_path):
    with pytest.raises(IngestError, match=str(tmp_path / "train.csv")):
        ingest("kinetics400", tmp_path, annotations=[tmp_path / "train.csv"])
