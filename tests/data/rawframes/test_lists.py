"""mmaction2 file lists: read back as mmaction2's RawframeDataset reads them."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from twostream.data.rawframes.export import export
from twostream.data.rawframes.lists import list_names, write_lists
from twostream.data.rawframes.sources import find_videos
from twostream.flow import get_backend

START_INDEX = 1  # mmaction2 RawframeDataset's default


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


def test_file_lists_follow_rawframe_dataset_conventions(texture_video, tmp_path, settings) -> None:
    root = tmp_path / "videos"
    table = []
    for i, (cls, n) in enumerate([("A", 4), ("A", 3), ("B", 5), ("B", 2)]):
        vid = f"v_{cls}_{i}"
        texture_video(root / cls / f"{vid}.avi", frames=n, size=(16, 16), seed=i)
        table.append({"video_id": vid, "label": int(cls == "B"), "class_name": cls,
                      "split1": "train" if i % 2 else "test", "split2": "test" if i % 2 else "train"})
    videos = find_videos([str(root)], failures := [])
    assert failures == [] and [(v.video_id, v.label) for v in videos] == [(t["video_id"], t["label"]) for t in table]
    out = tmp_path / "rawframes"
    done, _ = export(videos, out, backend=get_backend("opencv-cpu"), settings=settings(), workers=0)
    splits = pd.DataFrame(table).set_index("video_id")[["split1", "split2"]]
    write_lists(tmp_path, "toy", done, splits, ["A", "B"], with_flow=True)
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
    assert [n for n, _, _ in list_names("kinetics400", 1)] == [
        "kinetics400_rawframes", "kinetics400_train_list_rawframes", "kinetics400_val_list_rawframes"]


def test_two_level_ids_give_lists_mmaction2_reads_and_this_project_imports(texture_video, tmp_path, settings) -> None:
    """``Class/video`` folders: the lists resolve as RawframeDataset resolves them, and the export reads back
    through the lists themselves (the mmaction2 dataset kind) into shards of the same frames."""
    from twostream.data.rawframes.catalog import rawframes_manifest
    from twostream.data.rawframes.importer import Source, import_chunk
    from twostream.data.rawframes.sources import two_level
    from twostream.data.shards import Shard

    root = tmp_path / "videos"
    for i, cls in enumerate(("Run", "Jump")):
        texture_video(root / cls / f"v_{cls}_{i}.avi", frames=4 + i, size=(16, 16), seed=i)
    videos = two_level(find_videos([str(root)], []))
    assert [v.video_id for v in videos] == ["Jump/v_Jump_1", "Run/v_Run_0"]
    out = tmp_path / "rawframes"
    done, failures = export(videos, out, backend=get_backend("opencv-cpu"), settings=settings(), workers=0)
    assert failures == []
    splits = pd.DataFrame({"split1": ["train", "test"]}, index=done["video_id"])
    write_lists(tmp_path, "toy", done, splits, ["Jump", "Run"], with_flow=True)
    rgb = read_rawframe_list(tmp_path / "toy_train_list_rawframes.txt", out, "RGB")
    flow = read_rawframe_list(tmp_path / "toy_val_list_rawframes_flow.txt", out, "Flow")
    assert [(r["frame_dir"], r["total_frames"]) for r in rgb + flow] == [("Jump/v_Jump_1", 5), ("Run/v_Run_0", 3)]
    lists = [[tmp_path / "toy_train_list_rawframes.txt", tmp_path / "toy_val_list_rawframes.txt"]]
    manifest, _, naming = rawframes_manifest("mmaction2", out, lists=lists, classes=tmp_path / "toy_classes.txt")
    assert manifest[["video_id", "class_name", "split1", "frames"]].values.tolist() == [
        ["Jump/v_Jump_1", "Jump", "train", 5], ["Run/v_Run_0", "Run", "test", 4]]
    index = import_chunk(manifest, tmp_path / "shards", Source(naming, "twostream", 20.0), bound=20.0, quality=95,
                         length=5)
    with Shard(index.at[1, "shard"]) as shard:
        assert shard.rgb_bytes(3).tobytes() == (out / "Run/v_Run_0/img_00004.jpg").read_bytes()


def test_ids_of_more_than_two_levels_are_refused(tmp_path, settings) -> None:
    from twostream.data.rawframes.sources import Video

    done, failures = export([Video("A/B/c", str(tmp_path / "c.avi"), 0, "A")], tmp_path / "out", settings=settings(),
                            workers=0)
    assert done.empty and "more than two levels" in failures[0][2]
