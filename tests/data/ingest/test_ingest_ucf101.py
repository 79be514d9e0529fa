"""UCF-101 ingest: the real split files and clips, and small layouts with broken parts."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from twostream.data.ingest import IngestError, ingest
from twostream.data.video import VideoError, probe

# README table of the real clips: frames, fps, width, height.
REAL = {
    "v_ApplyEyeMakeup_g01_c01": ("ApplyEyeMakeup", 164, 25.0, 320, 240),
    "v_HeadMassage_g02_c05": ("HeadMassage", 307, 25.0, 320, 240),
    "v_Shotput_g05_c02": ("Shotput", 130, 25.0, 320, 240),
    "v_Basketball_g01_c01": ("Basketball", 141, 29.97, 320, 240),
}


@pytest.fixture(scope="module")
def real(shared):
    splits = shared("splits", "ucf101")
    manifest, failures = ingest("ucf101", shared("clips", "ucf101"), splits_dir=splits)
    return splits, manifest, failures


def official(splits: Path) -> tuple[dict[str, int], dict[str, list[str]]]:
    """Independent reading of the split files: 0-based labels, and each video's role per split."""
    labels = {}
    for line in splits.joinpath("classInd.txt").read_text().splitlines():
        index, name = line.split()
        labels[name] = int(index) - 1
    roles: dict[str, list[str]] = {}
    for k in range(3):
        for role in ("train", "test"):
            for line in splits.joinpath(f"{role}list0{k + 1}.txt").read_text().splitlines():
                stem = line.split()[0].split("/")[1].removesuffix(".avi")
                roles.setdefault(stem, ["", "", ""])[k] = role
    return labels, roles


def test_real_clips_have_official_labels_splits_and_metadata(real):
    splits, manifest, _ = real
    labels, roles = official(splits)
    assert list(manifest.video_id) == sorted(REAL)
    for row in manifest.itertuples():
        class_name, frames, fps, width, height = REAL[row.video_id]
        assert row.class_name == class_name and row.label == labels[class_name]
        assert [row.split1, row.split2, row.split3] == roles[row.video_id]
        assert (row.frames, row.width, row.height) == (frames, width, height)
        assert row.fps == pytest.approx(fps, abs=0.01)
        assert row.path == str(splits.parents[1] / "clips" / "ucf101" / class_name / f"{row.video_id}.avi")


def test_real_listed_but_absent_videos_are_missing_failures(real):
    splits, _, failures = real
    _, roles = official(splits)
    assert len(roles) == 13320
    assert set(failures.video) == set(roles) - set(REAL)
    assert len(failures) == len(roles) - len(REAL)
    assert set(failures.reason) == {"missing file"} and set(failures.stage) == {"ingest"}


def write_splits(folder: Path, lists: dict[str, list[str]], classes=("Alpha", "Beta")) -> Path:
    """An official-style split folder with CRLF line endings; lists not given are empty."""
    folder.mkdir(parents=True, exist_ok=True)
    crlf = lambda lines: "".join(f"{line}\r\n" for line in lines).encode()  # noqa: E731
    folder.joinpath("classInd.txt").write_bytes(crlf(f"{i} {name}" for i, name in enumerate(classes, 1)))
    for k in (1, 2, 3):
        for name in (f"trainlist0{k}.txt", f"testlist0{k}.txt"):
            folder.joinpath(name).write_bytes(crlf(lists.get(name, [])))
    return folder


def test_crlf_files_give_clean_names_labels_and_split_roles(tmp_path, put_video, tiny):
    root = tmp_path / "videos"
    put_video(root / "Alpha" / "v_Alpha_g01_c01.avi")
    put_video(root / "Beta" / "v_Beta_g01_c01.avi")
    splits = write_splits(
        tmp_path / "splits",
        {
            "trainlist01.txt": ["Beta/v_Beta_g01_c01.avi 2"],
            "testlist01.txt": ["Alpha/v_Alpha_g01_c01.avi"],
            "trainlist02.txt": ["Alpha/v_Alpha_g01_c01.avi 1", "Beta/v_Beta_g01_c01.avi 2"],
        },
    )
    manifest, failures = ingest("ucf101", root, splits_dir=splits)
    assert failures.empty
    expected = pd.DataFrame(
        {
            "video_id": ["v_Alpha_g01_c01", "v_Beta_g01_c01"],
            "path": [str(root / "Alpha" / "v_Alpha_g01_c01.avi"), str(root / "Beta" / "v_Beta_g01_c01.avi")],
            "label": [0, 1],
            "class_name": ["Alpha", "Beta"],
            "split1": ["test", "train"],
            "split2": ["train", "train"],
            "split3": ["", ""],
            **{key: [value] * 2 for key, value in tiny.items()},
        }
    )
    pd.testing.assert_frame_equal(manifest, expected, check_dtype=False)


def test_bad_lines_are_failures_and_the_run_goes_on(tmp_path, put_video, capsys):
    root = tmp_path / "videos"
    put_video(root / "Alpha" / "v_Alpha_g01_c01.avi")
    put_video(root / "Alpha" / "v_Alpha_g02_c01.avi")
    splits = write_splits(
        tmp_path / "splits",
        {
            "trainlist01.txt": [
                "Alpha/v_Alpha_g01_c01.avi 1",
                "Gamma/v_Gamma_g01_c01.avi 3",  # class not in classInd.txt
                "Alpha/v_Alpha_g03_c01.avi one",  # label not matching classInd.txt
                "v_Alpha_g04_c01.avi 1",  # no class folder
                "Alpha/v_Alpha_g02_c01.avi 1",
            ],
            "testlist01.txt": ["Alpha/v_Alpha_g02_c01.avi"],  # already train in split 1
        },
    )
    manifest, failures = ingest("ucf101", root, splits_dir=splits)
    trainlist = splits / "trainlist01.txt"
    assert list(manifest.video_id) == ["v_Alpha_g01_c01", "v_Alpha_g02_c01"]
    assert list(manifest.split1) == ["train", "train"]
    reasons = dict(zip(failures.video, failures.reason))
    assert set(reasons) == {
        "v_Gamma_g01_c01",
        f"{trainlist}:3",
        f"{trainlist}:4",
        f"{splits / 'testlist01.txt'}:1",
    }
    assert reasons["v_Gamma_g01_c01"].startswith("unknown class 'Gamma'")
    assert "malformed line" in reasons[f"{trainlist}:3"] and "malformed line" in reasons[f"{trainlist}:4"]
    assert "already as train" in reasons[f"{splits / 'testlist01.txt'}:1"]
    stderr = capsys.readouterr().err.splitlines()
    for video, reason in reasons.items():
        assert f"{video}: {reason}" in stderr


def test_undecodable_files_are_failures_with_the_decoder_reason(tmp_path, put_video):
    root = tmp_path / "videos"
    put_video(root / "Alpha" / "v_Alpha_g01_c01.avi")
    (root / "Alpha" / "v_Alpha_g02_c01.avi").write_bytes(b"")
    (root / "Alpha" / "v_Alpha_g03_c01.mp4").write_text("not a video\n")
    listed = [f"Alpha/v_Alpha_g0{g}_c01.avi 1" for g in (1, 2, 3)]
    splits = write_splits(tmp_path / "splits", {"trainlist01.txt": listed})
    manifest, failures = ingest("ucf101", root, splits_dir=splits)
    assert list(manifest.video_id) == ["v_Alpha_g01_c01"]
    assert list(failures.video) == ["v_Alpha_g02_c01", "v_Alpha_g03_c01"]
    for video, reason in zip(failures.video, failures.reason):
        with pytest.raises(VideoError) as error:
            probe(next((root / "Alpha").glob(f"{video}.*")))
        assert reason == str(error.value)
    assert failures.reason[0] == "empty file (0 bytes)"


def test_videos_match_by_stem_and_duplicate_ids_keep_the_first_path(tmp_path, put_video):
    root = tmp_path / "videos"
    kept = put_video(root / "Alpha" / "v_Alpha_g01_c01.avi")
    other_extension = put_video(root / "Alpha" / "v_Alpha_g01_c01.mp4")
    reencoded = put_video(root / "Alpha" / "v_Alpha_g02_c01.mp4")
    shared_id = put_video(root / "Alpha" / "v_Shared.avi")
    other_class = put_video(root / "Beta" / "v_Shared.avi")
    listed = [
        "Alpha/v_Alpha_g01_c01.avi 1",
        "Alpha/v_Alpha_g02_c01.avi 1",
        "Alpha/v_Shared.avi 1",
        "Beta/v_Shared.avi 2",
    ]
    splits = write_splits(tmp_path / "splits", {"trainlist01.txt": listed})
    manifest, failures = ingest("ucf101", root, splits_dir=splits)
    assert list(manifest.path) == [str(kept), str(reencoded), str(shared_id)]
    assert list(failures.video) == [str(other_extension), str(other_class)]
    assert list(failures.reason) == [
        f"duplicate video id v_Alpha_g01_c01 (kept {kept})",
        f"duplicate video id v_Shared (kept {shared_id})",
    ]


def test_process_pool_gives_the_same_tables(tmp_path, put_video):
    root = tmp_path / "videos"
    listed = []
    for g in range(1, 7):
        put_video(root / "Alpha" / f"v_Alpha_g0{g}_c01.avi")
        listed.append(f"Alpha/v_Alpha_g0{g}_c01.avi 1")
    (root / "Alpha" / "v_Alpha_g03_c01.avi").write_bytes(b"")
    splits = write_splits(tmp_path / "splits", {"trainlist01.txt": listed})
    serial = ingest("ucf101", root, splits_dir=splits)
    pooled = ingest("ucf101", root, splits_dir=splits, workers=2)
    assert len(serial[0]) == 5 and len(serial[1]) == 1
    for one, other in zip(serial, pooled):
        pd.testing.assert_frame_equal(one, other)


@pytest.mark.parametrize("missing", ["classInd.txt", "testlist03.txt"])
def test_missing_required_split_file_is_an_error_naming_it(tmp_path, missing):
    splits = write_splits(tmp_path / "splits", {})
    (splits / missing).unlink()
    with pytest.raises(IngestError, match=str(splits / missing)):
        ingest("ucf101", tmp_path, splits_dir=splits)


def test_missing_root_is_an_error_naming_it(tmp_path):
    splits = write_splits(tmp_path / "splits", {})
    with pytest.raises(IngestError, match=str(tmp_path / "absent")):
        ingest("ucf101", tmp_path / "absent", splits_dir=splits)


def test_validation_lists_become_val_roles(tmp_path):
    """The embedded dataset's vallist0k.txt: its videos are `val` in every split, never train or test."""
    from twostream.data.synthetic import Generator, generate

    spec = Generator(colours=2, directions=2, groups=3, clips_per_group=1, val_clips=1, frames=3, height=16,
                         width=16, seed=0, object_size=(4, 4))
    generate(spec, tmp_path / "ds")
    manifest, failures = ingest("ucf101", tmp_path / "ds/videos", splits_dir=tmp_path / "ds/splits")
    assert failures.empty and len(manifest) == 4 * 4
    val = manifest["video_id"].str.contains("_g00_")
    assert (manifest.loc[val, ["split1", "split2", "split3"]] == "val").all().all()
    assert manifest.loc[~val, ["split1", "split2", "split3"]].isin(["train", "test"]).all().all()
