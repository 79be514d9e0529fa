"""The dataset-level guard: a wrong root or a half-finished download stops ingest with one line.

The line gives found/listed, the root, two expected paths that are not there and, where the videos lie one
or two folder levels below or above the root (or beside it), that folder.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from twostream.data.ingest import IngestError, ingest
from twostream.data.ingest.presence import Presence, shortfall

VIDEOS = [f"{c}/v_{c}_{k}.avi" for c in ("Alpha", "Beta") for k in range(5)]


@pytest.fixture
def tree(tmp_path, put_video) -> tuple[Path, Path]:
    """``data/UCF-101/<Class>/<video>`` and a UCF-101 split folder listing all ten videos."""
    videos = tmp_path / "data" / "UCF-101"
    for name in VIDEOS:
        put_video(videos / name)
    splits = tmp_path / "splits"
    splits.mkdir()
    (splits / "classInd.txt").write_text("1 Alpha\n2 Beta\n")
    for k in (1, 2, 3):
        (splits / f"trainlist0{k}.txt").write_text("".join(f"{v} {1 + v.startswith('Beta')}\n" for v in VIDEOS[::2]))
        (splits / f"testlist0{k}.txt").write_text("".join(f"{v}\n" for v in VIDEOS[1::2]))
    return videos, splits


def error(root: Path, splits: Path, min_present: float = 0.8) -> str:
    with pytest.raises(IngestError) as e:
        ingest("ucf101", root, splits_dir=splits, min_present=min_present)
    assert len(str(e.value).splitlines()) == 1
    return str(e.value)


@pytest.mark.parametrize("where", ["one too high", "one too low", "beside", "two too low"])
def test_a_wrong_root_names_counts_expected_paths_and_the_folder_that_holds_the_videos(tree, where) -> None:
    videos, splits = tree
    root = {"one too high": videos.parent, "one too low": videos / "Alpha", "beside": videos.parent / "other",
            "two too low": videos / "Alpha" / "x"}[where]
    root.mkdir(parents=True, exist_ok=True)
    line = error(root, splits)
    assert line.startswith(f"only 0 of 10 listed videos are under the root {root} (0%, fewer than min_present 0.8)")
    assert f"not there: {root}/Alpha/v_Alpha_0.*, {root}/Alpha/v_Alpha_1.*" in line
    assert f"did you mean root: {videos}? (10 of 10 missing videos looked for are there)" in line
    assert line.endswith("min_present: 0 uses whatever is there")


def test_two_levels_too_high(tree) -> None:
    videos, splits = tree
    (videos.parent / "UCF-101").rename(videos.parent / "inner")
    (videos.parent / "UCF-101").mkdir()
    (videos.parent / "inner").rename(videos.parent / "UCF-101" / "inner")
    line = error(videos.parent, splits)
    assert f"did you mean root: {videos / 'inner'}?" in line


def test_a_half_finished_download_stops_without_a_suggestion(tree) -> None:
    videos, splits = tree
    for name in VIDEOS[3:]:
        (videos / name).unlink()
    line = error(videos, splits)
    assert line.startswith(f"only 3 of 10 listed videos are under the root {videos} (30%, fewer than min_present 0.8)")
    assert "did you mean" not in line


def test_enough_videos_or_min_present_zero_go_on(tree) -> None:
    videos, splits = tree
    for name in VIDEOS[8:]:
        (videos / name).unlink()
    manifest, _ = ingest("ucf101", videos, splits_dir=splits, min_present=0.8)  # 8 of 10: exactly enough
    assert len(manifest) == 8
    shutil.rmtree(videos / "Beta")
    with pytest.raises(IngestError, match="only 5 of 10"):
        ingest("ucf101", videos, splits_dir=splits, min_present=0.8)
    manifest, failures = ingest("ucf101", videos, splits_dir=splits, min_present=0)
    assert len(manifest) == 5 and (failures["reason"] == "missing file").sum() == 5


def test_kinetics_flat_videos_one_level_below(tmp_path, put_video) -> None:
    for k in range(4):
        put_video(tmp_path / "root" / "train" / f"yt{k}_000001_000011.mp4")
    (tmp_path / "k.csv").write_text("label,youtube_id,time_start,time_end,split\n"
                                    + "".join(f"abseiling,yt{k},1,11,train\n" for k in range(4)))
    with pytest.raises(IngestError, match=f"did you mean root: {tmp_path / 'root' / 'train'}\\? \\(4 of 4"):
        ingest("kinetics400", tmp_path / "root", annotations=[tmp_path / "k.csv"], min_present=0.5)


def test_shortfall_line() -> None:
    found = Presence(listed=13320, found=20, expected=("/d/A/v_1.*", "/d/A/v_2.*"), elsewhere=Path("/d/UCF-101"),
                     hits=18, sampled=20)
    assert shortfall(found, Path("/d"), 0.8) == (
        "only 20 of 13320 listed videos are under the root /d (0%, fewer than min_present 0.8); not there: "
        "/d/A/v_1.*, /d/A/v_2.*; did you mean root: /d/UCF-101? (18 of 20 missing videos looked for are there); "
        "min_present: 0 uses whatever is there")
    assert shortfall(found, Path("/d"), 0) is None
    assert shortfall(Presence(10, 8, ()), Path("/d"), 0.8) is None
    assert shortfall(Presence(0, 0, ()), Path("/d"), 0.8) is None  # nothing listed: other checks speak
