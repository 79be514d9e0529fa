"""Folder-per-class ingest: seeded, stratified, reproducible train/test split."""

from __future__ import annotations

import pandas as pd
import pytest

from twostream.data.ingest import IngestError, ingest

SIZES = {"walk": 10, "jump": 7, "sit": 1}


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
    assert tests == {"walk": 3, "jump": 2}  # 2.5 and 1.75 rounded half up; a one-video class trains
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
