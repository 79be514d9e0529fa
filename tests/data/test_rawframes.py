"""Rawframes: denseflow's layout and numbering, the shards' flow mapping, mmaction2 file lists, bad input."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from twostream.data import rawframes
from twostream.data.extract import extract_video
from twostream.data.rawframes import Resize, Settings, Video
from twostream.data.shards import Shard
from twostream.data.video import read_frames
from twostream.flow import get_backend

START_INDEX = 1  # mmaction2 RawframeDataset's default


def settings(step: int = 1, quality: int = 95, resize: Resize = Resize(0, 0, 0)) -> Settings:
    return Settings(step=step, bound=20.0, quality=quality, resize=resize)


def files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def read_rawframe_list(path: Path, data_prefix: Path, modality: str) -> list[dict]:
    """Read a list as mmaction2's RawframeDataset does and resolve every frame SampleFrames may ask for.

    Lines are ``<frame_dir> <total_frames> <label>`` split on whitespace; frames are indices
    start_index .. start_index + total_frames - 1 in ``img_{:05}.jpg`` (RGB) or
    ``flow_{x,y}_{:05d}.jpg`` (Flow, the ``{}_{:05d}.jpg`` template with flow_x / flow_y).
    """
    items = []
    for line in path.read_text().splitlines():
        frame_dir, total, label = line.split()
        folder = data_prefix / frame_dir
        indices = range(START_INDEX, START_INDEX + int(total))
        names = [f"img_{i:05}.jpg" for i in indices] if modality == "RGB" else \
            [f"{d}_{i:05d}.jpg" for i in indices for d in ("flow_x", "flow_y")]
        missing = [n for n in names if not (folder / n).is_file()]
        assert not missing, f"{path.name}: {frame_dir} lacks {missing[:3]}"
        items.append({"frame_dir": frame_dir, "total_frames": int(total), "label": int(label)})
    return items


def test_resize_follows_denseflow() -> None:
    assert Resize(340, 256, 0).size(240, 320) == (256, 340)
    assert Resize(340, 0, 0).size(240, 320) == (255, 340)  # 240 / 320 * 340 = 255
    assert Resize(0, 256, 0).size(240, 320) == (256, 341)  # 341.33
    assert Resize(0, 0, 128).size(240, 320) == (128, 171)  # 170.67
    assert Resize(0, 0, 128).size(320, 240) == (171, 128)  # portrait: the width is the short side
    assert Resize(0, 0, 256).size(240, 320) is None  # never enlarged
    assert Resize(0, 0, 0).size(240, 320) is None
    with pytest.raises(rawframes.RawframesError, match="either"):
        Resize(340, 0, 128)


def test_flow_names_follow_denseflow() -> None:
    assert rawframes.flow_prefix(1, "x") == "flow_x_"
    assert rawframes.flow_prefix(2, "y") == "flow_y_p2_"
    assert rawframes.flow_prefix(-1, "x") == "flow_x_m1_"
    assert rawframes.image_name("img_", 7) == "img_00007.jpg"


def test_real_clip_layout_and_numbering(shared_data, tmp_path) -> None:
    clip = shared_data / "clips" / "hmdb51" / "dive" / "BASE_Jumping_Compilation_-_Brilliant_dive_f_cm_np1_le_bad_3.mp4"
    video = Video(clip.stem, str(clip), 0, "dive")
    done, failures = rawframes.export([video], tmp_path, backend=get_backend("opencv-cpu"),
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


def test_flow_jpegs_are_the_shards_quantised_flow(texture_video, tmp_path) -> None:
    """Computed rawframes hold the shard's JPEGs byte for byte, so exporting a shard gives the same files."""
    path = texture_video(tmp_path / "v.avi")
    backend = get_backend("opencv-cpu")
    row = pd.Series({"video_id": "v", "path": str(path), "label": 0, "class_name": "A", "fps": 25.0, "frames": 8})
    shard = tmp_path / "v.h5"
    extract_video(row, backend, shard, size=(48, 64), bound=20.0, quality=90, length=5)
    rawframes.export([Video("v", str(path), 0, "A")], tmp_path / "computed", backend=backend,
                     settings=settings(quality=90), workers=0)
    rawframes.export([Video("v", str(shard), 0, "A")], tmp_path / "copied")
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


def test_step_zero_and_two(texture_video, tmp_path) -> None:
    path = texture_video(tmp_path / "v.avi", frames=6)
    video = Video("v", str(path), 0, "A")
    rawframes.export([video], tmp_path / "s0", settings=settings(step=0), workers=0)
    assert files(tmp_path / "s0" / "v") == [".done"] + [f"img_{t:05d}.jpg" for t in range(1, 7)]
    rawframes.export([video], tmp_path / "s2", backend=get_backend("opencv-cpu"), settings=settings(step=2), workers=0)
    names = files(tmp_path / "s2" / "v")
    assert [n for n in names if n.startswith("flow_x")] == [f"flow_x_p2_{t:05d}.jpg" for t in range(1, 5)]


def test_file_lists_follow_rawframe_dataset_conventions(texture_video, tmp_path) -> None:
    root = tmp_path / "videos"
    table = []
    for i, (cls, n) in enumerate([("A", 4), ("A", 3), ("B", 5), ("B", 2)]):
        vid = f"v_{cls}_{i}"
        texture_video(root / cls / f"{vid}.avi", frames=n, size=(16, 16), seed=i)
        table.append({"video_id": vid, "label": int(cls == "B"), "class_name": cls,
                      "split1": "train" if i % 2 else "test", "split2": "test" if i % 2 else "train"})
    videos = rawframes.find_videos([str(root)], failures := [])
    assert failures == [] and [(v.video_id, v.label) for v in videos] == [(t["video_id"], t["label"]) for t in table]
    out = tmp_path / "rawframes"
    done, _ = rawframes.export(videos, out, backend=get_backend("opencv-cpu"), settings=settings(), workers=0)
    splits = pd.DataFrame(table).set_index("video_id")[["split1", "split2"]]
    rawframes.write_lists(tmp_path, "toy", done, splits, ["A", "B"], with_flow=True)
    for k in (1, 2):
        for subset, role in (("train", "train"), ("val", "test")):
            rgb = read_rawframe_list(tmp_path / f"toy_{subset}_split_{k}_rawframes.txt", out, "RGB")
            flow = read_rawframe_list(tmp_path / f"toy_{subset}_split_{k}_rawframes_flow.txt", out, "Flow")
            want = [t for t in table if t[f"split{k}"] == role]
            assert [r["frame_dir"] for r in rgb] == [t["video_id"] for t in want]
            assert [r["label"] for r in rgb] == [t["label"] for t in want]
            assert [r["total_frames"] - 1 for r in rgb] == [r["total_frames"] for r in flow]
            for r in rgb:  # total_frames is every frame: one past it is absent
                assert not (out / r["frame_dir"] / f"img_{START_INDEX + r['total_frames']:05d}.jpg").exists()
    everything = read_rawframe_list(tmp_path / "toy_rawframes.txt", out, "RGB")
    assert [r["total_frames"] for r in everything] == [4, 3, 5, 2]
    assert (tmp_path / "toy_classes.txt").read_text() == "0 A\n1 B\n"


def test_one_split_lists_are_named_as_mmaction2_names_them() -> None:
    assert [n for n, _, _ in rawframes.list_names("kinetics400", 1)] == [
        "kinetics400_rawframes", "kinetics400_train_list_rawframes", "kinetics400_val_list_rawframes"]


def test_bad_videos_are_listed_and_the_rest_goes_on(texture_video, tmp_path) -> None:
    good = texture_video(tmp_path / "in" / "A" / "good.avi")
    (tmp_path / "in" / "A" / "empty.avi").write_bytes(b"")
    (tmp_path / "in" / "A" / "text.mp4").write_text("not a video")
    texture_video(tmp_path / "in" / "A" / "single.avi", frames=1)
    texture_video(tmp_path / "in" / "B" / "good.mkv")  # the same id as good.avi
    (tmp_path / "in" / "A" / "with space.avi").write_bytes(good.read_bytes())
    failures: list = []
    videos = rawframes.find_videos([str(tmp_path / "in"), str(tmp_path / "missing.avi")], failures)
    done, more = rawframes.export(videos, tmp_path / "out", backend=get_backend("opencv-cpu"), settings=settings(),
                                  workers=0)
    assert done["video_id"].tolist() == ["good"]
    reasons = {Path(v).name: r for v, _, r in failures + more}
    assert set(reasons) == {"missing.avi", "good.mkv", "empty.avi", "text.mp4", "single.avi", "with space.avi"}
    assert "duplicate video id good" in reasons["good.mkv"]
    assert "empty" in reasons["empty.avi"] and "no flow" in reasons["single.avi"]
    assert [p.name for p in (tmp_path / "out").iterdir() if p.name != ".lock"] == ["good"]  # nothing half-written


def test_a_finished_video_is_kept_and_a_new_recipe_redoes_it(texture_video, tmp_path) -> None:
    path = texture_video(tmp_path / "v.avi")
    video, backend = Video("v", str(path), 0, "A"), get_backend("opencv-cpu")
    rawframes.export([video], tmp_path / "out", backend=backend, settings=settings(), workers=0)
    marker = tmp_path / "out" / "v" / ".done"
    first = marker.stat().st_mtime_ns
    done, _ = rawframes.export([video], tmp_path / "out", backend=backend, settings=settings(), workers=0)
    assert done["status"].tolist() == ["kept"] and marker.stat().st_mtime_ns == first
    done, _ = rawframes.export([video], tmp_path / "out", backend=backend, settings=settings(step=0), workers=0)
    assert done["status"].tolist() == ["done"] and not list((tmp_path / "out" / "v").glob("flow_*"))


def test_a_second_run_on_the_same_folder_stops(tmp_path) -> None:
    (tmp_path / "out").mkdir()
    with rawframes.locked(tmp_path / "out"), pytest.raises(rawframes.RawframesError, match="another rawframes run"):
        rawframes.export([], tmp_path / "out", settings=settings(), workers=0)
