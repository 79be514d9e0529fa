"""Export: denseflow's layout and numbering, the shards' flow mapping, bad input, resume."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from twostream.data.extract import extract_video
from twostream.data.rawframes.export import export, locked
from twostream.data.rawframes.naming import RawframesError
from twostream.data.rawframes.resize import Resize
from twostream.data.rawframes.sources import Video, find_videos
from twostream.data.shards import Shard
from twostream.data.video import read_frames
from twostream.flow import get_backend


def files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_real_clip_layout_and_numbering(shared_data, tmp_path, settings) -> None:
    clip = shared_data / "clips" / "hmdb51" / "dive" / "BASE_Jumping_Compilation_-_Brilliant_dive_f_cm_np1_le_bad_3.mp4"
    video = Video(clip.stem, str(clip), 0, "dive")
    done, failures = export([video], tmp_path, backend=get_backend("opencv-cpu"),
                                      settings=settings(resize=Resize(0, 0, 24)), workers=0)
    assert failures == []
    decoded = len(read_frames(clip))
    folder = tmp_path / clip.stem
    expected = [f"img_{t:05d}.jpg" for t in range(1, decoded + 1)]
    expected += [f"flow_{a}_{t:05d}.jpg" for a in "xy" for t in range(1, decoded)]
    assert files(folder) == sorted(expected + [".done"])
    assert done[["frames", "flows"]].values.tolist() == [[decoded, decoded - 1]]
    assert cv2.imread(str(folder / "img_00001.jpg")).shape == (24, 29, 3)  # 306x256 -> short side 24
    assert cv2.imread(str(folder / "flow_y_00001.jpg"), cv2.IMREAD_UNCHANGED).shape == (24, 29)
    assert [p.name for p in tmp_path.glob(".*")] == [".lock"]  # no temporary folder left


def test_flow_jpegs_are_the_shards_quantised_flow(texture_video, tmp_path, settings) -> None:
    """Computed rawframes hold the shard's JPEGs byte for byte, so exporting a shard gives the same files."""
    path = texture_video(tmp_path / "v.avi")
    backend = get_backend("opencv-cpu")
    row = pd.Series({"video_id": "v", "path": str(path), "label": 0, "class_name": "A", "fps": 25.0, "frames": 8})
    shard = tmp_path / "v.h5"
    extract_video(row, backend, shard, size=(48, 64), bound=20.0, quality=90, length=5)
    export([Video("v", str(path), 0, "A")], tmp_path / "computed", backend=backend,
                     settings=settings(quality=90), workers=0)
    export([Video("v", str(shard), 0, "A")], tmp_path / "copied")
    computed, copied = tmp_path / "computed" / "v", tmp_path / "copied" / "v"
    with Shard(shard) as s:
        for t in range(s.frames - 1):
            stored = s.flow(t, 1)[0]
            for c, axis in enumerate("xy"):
                name = f"flow_{axis}_{t + 1:05d}.jpg"
                np.testing.assert_array_equal(cv2.imread(str(computed / name), cv2.IMREAD_GRAYSCALE), stored[..., c])
        assert stored.std() > 0 and abs(float(np.median(stored[..., 0])) - 128 - 127 / 20) <= 2  # ~1 px/frame right
    assert files(computed) == files(copied)
    for name in files(computed):
        if name != ".done":
            assert (computed / name).read_bytes() == (copied / name).read_bytes(), name


def test_step_zero_and_two(texture_video, tmp_path, settings) -> None:
    path = texture_video(tmp_path / "v.avi", frames=6)
    video = Video("v", str(path), 0, "A")
    export([video], tmp_path / "s0", settings=settings(step=0), workers=0)
    assert files(tmp_path / "s0" / "v") == [".done"] + [f"img_{t:05d}.jpg" for t in range(1, 7)]
    export([video], tmp_path / "s2", backend=get_backend("opencv-cpu"), settings=settings(step=2), workers=0)
    names = files(tmp_path / "s2" / "v")
    assert [n for n in names if n.startswith("flow_x")] == [f"flow_x_p2_{t:05d}.jpg" for t in range(1, 5)]


def test_bad_videos_are_listed_and_the_rest_goes_on(texture_video, tmp_path, settings) -> None:
    good = texture_video(tmp_path / "in" / "A" / "good.avi")
    (tmp_path / "in" / "A" / "empty.avi").write_bytes(b"")
    (tmp_path / "in" / "A" / "text.mp4").write_text("not a video")
    texture_video(tmp_path / "in" / "A" / "single.avi", frames=1)
    texture_video(tmp_path / "in" / "B" / "good.mkv")  # the same id as good.avi
    (tmp_path / "in" / "A" / "with space.avi").write_bytes(good.read_bytes())
    failures: list = []
    videos = find_videos([str(tmp_path / "in"), str(tmp_path / "missing.avi")], failures)
    done, more = export(videos, tmp_path / "out", backend=get_backend("opencv-cpu"), settings=settings(),
                                  workers=0)
    assert done["video_id"].tolist() == ["good"]
    reasons = {Path(v).name: r for v, _, r in failures + more}
    assert set(reasons) == {"missing.avi", "good.mkv", "empty.avi", "text.mp4", "single.avi", "with space.avi"}
    assert "duplicate video id good" in reasons["good.mkv"]
    assert "empty" in reasons["empty.avi"] and "no flow" in reasons["single.avi"]
    assert [p.name for p in (tmp_path / "out").iterdir() if p.name != ".lock"] == ["good"]  # nothing half-written


def test_a_finished_video_is_kept_and_a_new_recipe_redoes_it(texture_video, tmp_path, settings) -> None:
    path = texture_video(tmp_path / "v.avi")
    video, backend = Video("v", str(path), 0, "A"), get_backend("opencv-cpu")
    export([video], tmp_path / "out", backend=backend, settings=settings(), workers=0)
    marker = tmp_path / "out" / "v" / ".done"
    first = marker.stat().st_mtime_ns
    done, _ = export([video], tmp_path / "out", backend=backend, settings=settings(), workers=0)
    assert done["status"].tolist() == ["kept"] and marker.stat().st_mtime_ns == first
    done, _ = export([video], tmp_path / "out", backend=backend, settings=settings(step=0), workers=0)
    assert done["status"].tolist() == ["done"] and not list((tmp_path / "out" / "v").glob("flow_*"))


def test_a_second_run_on_the_same_folder_stops(tmp_path, settings) -> None:
    (tmp_path / "out").mkdir()
    with locked(tmp_path / "out"), pytest.raises(RawframesError, match="another rawframes run"):
        export([], tmp_path / "out", settings=settings(), workers=0)
