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
