"""HMDB-51 ingest: the real split files and clips (re-encoded .mp4 for listed .avi), small layouts."""

from __future__ import annotations

from pathlib import Path

import pytest

from twostream.data.ingest import IngestError, ingest

ROLE = {"0": "", "1": "train", "2": "test"}
# README table of the real clips in a split: class, frames, width, height (all 30 fps).
REAL = {
    "50_FIRST_DATES_drink_u_nm_np1_fr_goo_29": ("drink", 48, 340, 256),
    "BASE_Jumping_Compilation_-_Brilliant_dive_f_cm_np1_le_bad_3": ("dive", 45, 306, 256),
    "Bodenturnen_im_sportunterricht_handstand_f_cm_np1_le_med_1": ("handstand", 76, 340, 256),
}
UNUSED_CLIP = "Crash_walk_f_cm_np1_ri_med_0"  # on disk, but 0 (unused) in all three splits


@pytest.fixture(scope="module")
def real(shared):
    splits = shared("splits", "hmdb51")
    manifest, failures = ingest("hmdb51", shared("clips", "hmdb51"), splits_dir=splits)
    return splits, manifest, failures


def official(splits: Path) -> tuple[list[str], dict[str, list[str]]]:
    """Independent reading of the split files: class_list.txt, and each video's role per split."""
    classes = splits.joinpath("class_list.txt").read_text().split()
    roles: dict[str, list[str]] = {}
    for name in classes:
        for k in range(3):
            for line in splits.joinpath(f"{name}_test_split{k + 1}.txt").read_text().splitlines():
                video, value = line.split()
                roles.setdefault(video.removesuffix(".avi"), ["", "", ""])[k] = ROLE[value]
    return classes, roles


def test_real_mp4_clips_match_their_listed_avi_names(real):
    splits, manifest, _ = real
    classes, roles = official(splits)
    assert len(classes) == 51
    assert list(manifest.video_id) == sorted(REAL)
    for row in manifest.itertuples():
        class_name, frames, width, height = REAL[row.video_id]
        assert row.class_name == class_name and row.label == classes.index(class_name)
        assert [row.split1, row.split2, row.split3] == roles[row.video_id]
        assert (row.frames, row.fps, row.width, row.height) == (frames, 30.0, width, height)
        assert row.path.endswith(f"/hmdb51/{class_name}/{row.video_id}.mp4")


def test_real_missing_videos_of_some_split_are_failures_and_unused_ones_are_not(real):
    splits, _, failures = real
    _, roles = official(splits)
    in_a_split = {video for video, role in roles.items() if any(role)}
    assert len(roles) == 6766 and UNUSED_CLIP in roles and UNUSED_CLIP not in in_a_split
    assert set(failures.video) == in_a_split - set(REAL)
    assert len(failures) == len(in_a_split) - len(REAL)
    assert set(failures.reason) == {"missing file"}


def test_real_original_avi_clip_when_a_split_uses_it(tmp_path, shared):
    splits = write_splits(tmp_path / "splits", {"walk": [[f"{UNUSED_CLIP}.avi 1"]] * 3})
    manifest, failures = ingest("hmdb51", shared("clips", "hmdb51"), splits_dir=splits)
    others = {name: f"{class_name}/{name}.mp4" for name, (class_name, *_) in REAL.items()}
    assert sorted(failures.video) == sorted(others.values())  # classes with videos but no split files
    assert set(failures.reason) == {f"skipped: class {c!r} has videos but no split file lines"
                                    for c in ("dive", "drink", "handstand")}
    [row] = manifest.itertuples()
    assert (row.video_id, row.label, row.split1) == (UNUSED_CLIP, 0, "train")
    assert row.path.endswith(f"/walk/{UNUSED_CLIP}.avi")
    assert (row.frames, row.fps, row.width, row.height) == (258, 30.0, 560, 240)  # container count


def write_splits(
    folder: Path, files: dict[str, list[list[str]]], class_list: list[str] | None = None
) -> Path:
    """Split files ``<class>_test_split<k>.txt`` (lines with a trailing space, as the official ones)."""
    folder.mkdir(parents=True, exist_ok=True)
    for class_name, per_split in files.items():
        for k, lines in enumerate(per_split, 1):
            folder.joinpath(f"{class_name}_test_split{k}.txt").write_text(
                "".join(f"{line} \n" for line in lines)
            )
    if class_list is not None:
        folder.joinpath("class_list.txt").write_text("\n".join(class_list))
    return folder


@pytest.fixture
def layout(tmp_path, put_video):
    root = tmp_path / "videos"
    put_video(root / "ride" / "a_ride_0.avi")
    put_video(root / "clap" / "b_clap_0.mp4")
    put_video(root / "clap" / "c_clap_0.avi")
    files = {
        "ride": [["a_ride_0.avi 1"], ["a_ride_0.avi 2"], ["a_ride_0.avi 0"]],
        "clap": [["b_clap_0.avi 2", "c_clap_0.avi 0"]] * 3,
    }
    return root, files


def test_class_index_is_sorted_names_without_a_class_list(tmp_path, layout):
    root, files = layout
    manifest, failures = ingest("hmdb51", root, splits_dir=write_splits(tmp_path / "splits", files))
    assert failures.empty
    assert list(manifest.video_id) == ["a_ride_0", "b_clap_0"]  # c_clap_0 is unused in every split
    assert list(manifest.label) == [1, 0]
    assert [list(row) for row in manifest[["split1", "split2", "split3"]].values] == [
        ["train", "test", ""],
        ["test", "test", "test"],
    ]


def test_class_list_order_gives_the_labels_and_other_classes_are_failures(tmp_path, layout, put_video):
    root, files = layout
    put_video(root / "wave" / "d_wave_0.avi")
    files["wave"] = [["d_wave_0.avi 1"]] * 3
    splits = write_splits(tmp_path / "splits", files, class_list=["ride", "clap"])
    manifest, failures = ingest("hmdb51", root, splits_dir=splits)
    assert list(manifest.label) == [0, 1]
    skipped = [str(splits / f"wave_test_split{k}.txt") for k in (1, 2, 3)]
    assert list(failures.video) == [*skipped, "wave/d_wave_0.avi"]  # and the video in its folder is not used
    assert set(failures.reason[:3]) == {"unknown class 'wave' (not in class_list.txt); file skipped"}


def test_malformed_lines_name_file_and_line(tmp_path, layout):
    root, files = layout
    files["clap"][1] = ["b_clap_0.avi 2", "c_clap_0.avi 3", "c_clap_0.avi"]
    splits = write_splits(tmp_path / "splits", files)
    manifest, failures = ingest("hmdb51", root, splits_dir=splits)
    assert list(manifest.video_id) == ["a_ride_0", "b_clap_0"]
    path = splits / "clap_test_split2.txt"
    assert list(failures.video) == [f"{path}:2", f"{path}:3"]
    assert all(reason.startswith("malformed line 'c_clap_0.avi") for reason in failures.reason)


def test_class_without_its_three_split_files_is_an_error(tmp_path, layout):
    root, files = layout
    splits = write_splits(tmp_path / "splits", files, class_list=["ride", "clap", "wave"])
    with pytest.raises(IngestError, match=str(splits / "wave_test_split1.txt")):
        ingest("hmdb51", root, splits_dir=splits)
