"""``twostream rawframes``: dataset splits from ingest, shard export, argument errors, resume after SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from twostream.data.extract import extract_video
from twostream.flow import get_backend


def make_video(path: Path, frames: int, size: tuple[int, int] = (48, 64), seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    base = cv2.GaussianBlur((rng.random((*size, 3)) * 255).astype(np.uint8), (0, 0), 2)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"FFV1"), 25, (size[1], size[0]))
    for t in range(frames):
        writer.write(np.roll(base, t, axis=1))
    writer.release()
    return path


SRC = Path(__file__).resolve().parents[2] / "src"
PATHS = [str(SRC), os.environ.get("PYTHONPATH")]
ENV = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join(filter(None, PATHS)))


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "twostream", "rawframes", *args]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(command(*args), capture_output=True, text=True, env=ENV, timeout=600)


def lines(path: Path) -> list[list[str]]:
    return [line.split() for line in path.read_text().splitlines()]


def read(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if line.strip()]


def test_ucf101_splits_from_ingest(shared_data, tmp_path) -> None:
    """The shared UCF-101 clips with the official split files: one train and one val list per split."""
    splits = shared_data / "splits" / "ucf101"
    result = run(str(shared_data / "clips" / "ucf101"), "--dataset-kind", "ucf101", "--splits-dir", str(splits),
                 "--step", "0", "--new-short", "32", "--out", str(tmp_path / "rawframes"), "--lists", str(tmp_path))
    assert result.returncode == 0, result.stderr[-2000:]
    classes = {name: int(i) - 1 for i, name in (line.split() for line in read(splits / "classInd.txt"))}
    clips = sorted((shared_data / "clips" / "ucf101").glob("*/*.avi"))
    for k in (1, 2, 3):
        train_ids = {Path(line.split()[0]).stem for line in read(splits / f"trainlist0{k}.txt")}
        train = lines(tmp_path / f"ucf101_train_split_{k}_rawframes.txt")
        val = lines(tmp_path / f"ucf101_val_split_{k}_rawframes.txt")
        assert sorted(v for v, _, _ in train + val) == [c.stem for c in clips]
        assert {v for v, _, _ in train} == {c.stem for c in clips} & train_ids
        for video_id, total, label in train + val:
            clip = next(c for c in clips if c.stem == video_id)
            assert int(label) == classes[clip.parent.name]
            assert len(list((tmp_path / "rawframes" / video_id).glob("img_*.jpg"))) == int(total)
    assert not (tmp_path / "ucf101_train_split_1_rawframes_flow.txt").exists()  # step 0: frames only
    failures = pd.read_csv(tmp_path / "ucf101_failures.csv")
    assert (failures["reason"] == "missing file").all() and len(failures) > 13000  # the rest of UCF-101


def test_export_from_shards(tmp_path) -> None:
    backend = get_backend("opencv-cpu")
    rows = []
    for i, role in enumerate(["train", "test"]):
        video = make_video(tmp_path / f"v{i}.avi", frames=5 + i, seed=i)
        row = pd.Series({"video_id": f"v{i}", "path": str(video), "label": i, "class_name": f"C{i}", "fps": 25.0,
                         "frames": 5 + i})
        extract_video(row, backend, tmp_path / "shards" / f"v{i}.h5", size=(48, 64), bound=20.0, quality=90)
        rows.append({**row.drop("frames").to_dict(), "split1": role, "shard": str(tmp_path / "shards" / f"v{i}.h5"),
                     "frames": 5 + i, "bytes": 0})
    pd.DataFrame(rows).to_csv(tmp_path / "index.csv", index=False)
    result = run("--from-shards", str(tmp_path / "index.csv"), "--name", "toy", "--out", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr[-2000:]
    assert lines(tmp_path / "out" / "toy_train_list_rawframes.txt") == [["v0", "5", "0"]]
    assert lines(tmp_path / "out" / "toy_val_list_rawframes_flow.txt") == [["v1", "5", "1"]]
    assert len(list((tmp_path / "out" / "v1").glob("flow_y_*.jpg"))) == 5


def test_contradicting_resize_options_fail_before_any_work(tmp_path) -> None:
    make_video(tmp_path / "in" / "v.avi", frames=3)
    result = run(str(tmp_path / "in"), "--new-short", "32", "--new-width", "40", "--out", str(tmp_path / "out"))
    assert result.returncode == 2 and "either a new short side" in result.stderr
    assert not (tmp_path / "out").exists()


def complete(folder: Path) -> bool:
    """A folder a later run accepts: its marker's counts match its files."""
    done = json.loads((folder / ".done").read_text())
    return (len(list(folder.glob("img_*.jpg"))) == done["frames"]
            and len(list(folder.glob("flow_x_*.jpg"))) == len(list(folder.glob("flow_y_*.jpg"))) == done["flows"])


def test_resume_after_sigkill(tmp_path) -> None:
    for i in range(3):
        make_video(tmp_path / "in" / "A" / f"v{i}.avi", frames=8, size=(32, 48), seed=i)
    out = tmp_path / "out"
    args = (str(tmp_path / "in"), "--backend", "opencv-cpu", "--threads", "1", "--out", str(out))
    job = subprocess.Popen(command(*args), stderr=subprocess.DEVNULL, env=ENV)
    deadline = time.time() + 300
    while not (list(out.glob("v?")) and list(out.glob(".v?.tmp*/img_*"))):  # one video done, the next half-written
        assert job.poll() is None and time.time() < deadline, "the job ended before it could be killed"
        time.sleep(0.05)
    job.send_signal(signal.SIGKILL)
    job.wait()
    finished = sorted(out.glob("v?"))
    assert finished and all(complete(f) for f in finished)  # a final name is always complete
    marks = {f.name: (f / ".done").stat().st_mtime_ns for f in finished}
    result = run(*args)
    assert result.returncode == 0, result.stderr[-2000:]
    assert sorted(p.name for p in out.glob("v?")) == [f"v{i}" for i in range(3)]
    assert all(complete(f) for f in out.glob("v?")) and not list(out.glob(".v*"))
    assert {name: (out / name / ".done").stat().st_mtime_ns for name in marks} == marks  # kept, not redone
    assert f"({len(marks)} already done)" in result.stderr
    assert [row[1] for row in lines(out / "videos_rawframes.txt")] == ["8"] * 3
