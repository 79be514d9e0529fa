"""Folder-per-class ingest: seeded, stratified, reproducible train/test split."""

from __future__ import annotations

import pandas as pd
import pytest

from twostream.data.ingest import IngestError, ingest

SIZES = {"walk": 10, "jump": 7, "sit": 2}


@pytest.fixture
def root(tmp_path, put_video):
    root = tmp_path / "videos"
    for class_name, n in SIZES.items():
        for i in range(n):
            put_video(root / class_name / f"{class_name}_{i:02d}.avi")
    (root / "walk" / "notes.txt").write_text("not a video extension: listed as skipped\n")
    return root


def test_labels_are_sorted_folder_names(root):
    manifest, failures = ingest("folder", root, seed=0, test_fraction=0.3)
    assert failures.values.tolist() == [["walk/notes.txt", "ingest", "skipped: not a video file extension (.txt)"]]
    assert len(manifest) == sum(SIZES.values())
    assert dict(zip(manifest.class_name, manifest.label)) == {"jump": 0, "sit": 1, "walk": 2}


def test_split_is_stratified_per_class(root):
    manifest, _ = ingest("folder", root, seed=0, test_fraction=0.25)
    tests = manifest[manifest.split1 == "test"].groupby("class_name").size().to_dict()
    assert tests == {"walk": 3, "jump": 2, "sit": 1}  # 2.5, 1.75 and 0.5 rounded half up
    assert set(manifest.split1) == {"train", "test"}


def test_split_is_reproducible_and_depends_on_the_seed(root):
    first, _ = ingest("folder", root, seed=7, test_fraction=0.3)
    pd.testing.assert_frame_equal(first, ingest("folder", root, seed=7, test_fraction=0.3)[0])
    other, _ = ingest("folder", root, seed=8, test_fraction=0.3)
    assert list(other.video_id) == list(first.video_id)
    assert list(other.split1) != list(first.split1)


def test_a_class_split_does_not_depend_on_other_classes(root, put_video):
    before, _ = ingest("folder", root, seed=0, test_fraction=0.3)
    put_video(root / "run" / "run_00.avi")
    put_video(root / "run" / "run_01.avi")
    after, _ = ingest("folder", root, seed=0, test_fraction=0.3)
    merged = before.merge(after, on="video_id", suffixes=("_before", "_after"))
    assert len(merged) == len(before)
    assert (merged.split1_before == merged.split1_after).all()


@pytest.mark.parametrize("fraction", [0.0, 1.0])
def test_test_fraction_must_lie_inside_zero_one(root, fraction):
    with pytest.raises(IngestError, match="test fraction"):
        ingest("folder", root, seed=0, test_fraction=fraction)


def test_the_draw_needs_its_seed_and_test_fraction(root):
    """Their defaults live in the config schema only: a call without them is an error, not a silent 0 / 0.3."""
    with pytest.raises(IngestError, match="needs a seed and a test fraction"):
        ingest("folder", root, seed=0)
    with pytest.raises(IngestError, match="needs a seed and a test fraction"):
        ingest("folder", root, test_fraction=0.3)


def test_a_class_folder_without_videos_is_not_a_class_and_is_listed(root, capsys):
    (root / "aaa_empty").mkdir()  # sorts first: as a class it would shift every label
    (root / "nothing" / "sub").mkdir(parents=True)
    (root / "nothing" / "readme.txt").write_text("no videos here\n")
    manifest, failures = ingest("folder", root, seed=0, test_fraction=0.3)
    assert dict(zip(manifest.class_name, manifest.label)) == {"jump": 0, "sit": 1, "walk": 2}
    why = dict(zip(failures.video, failures.reason))
    assert why["aaa_empty"] == why["nothing"] == ("skipped: class folder without videos: not a class (the labels are "
                                                  "those of the classes with videos)")
    assert "aaa_empty: skipped: class folder without videos" in capsys.readouterr().err


def test_no_videos_at_all_is_an_error(tmp_path, put_video):
    (tmp_path / "v" / "run").mkdir(parents=True)
    put_video(tmp_path / "v" / "stray.avi")
    with pytest.raises(IngestError, match=r"no videos in class folders under .*v \(1 class folders, all without "
                                          r"videos; 1 video files directly in the root"):
        ingest("folder", tmp_path / "v", seed=0, test_fraction=0.3)


def test_a_class_without_a_test_or_training_video_is_an_error_naming_it(root, put_video):
    put_video(root / "lone" / "lone_0.avi")  # one video: trains, nothing to test
    (root / "sit" / "sit_00.avi").write_bytes(b"")  # one of two fails to probe
    (root / "gone").mkdir()
    (root / "gone" / "g.avi").write_text("not a video")  # none usable
    with pytest.raises(IngestError) as error:
        ingest("folder", root, seed=0, test_fraction=0.3)
    message = str(error.value)
    assert len(message.splitlines()) == 1
    assert "'lone' has 1 usable video, none for test" in message
    assert "'gone' has no usable video" in message
    assert "'sit' has 1 usable video, none for" in message and "'walk'" not in message


def test_too_few_videos_for_the_test_share_is_a_warning_line(root, capsys):
    ingest("folder", root, seed=0, test_fraction=0.1)
    err = capsys.readouterr().err
    assert "class 'sit': 2 videos are too few for a test share of 0.1: 1 drawn for test, 1 for training" in err
    assert "class 'walk'" not in err  # 1 of 10 is the share
