"""``twostream rawframes``: dataset splits from ingest, shard export, argument errors, resume after SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from twostream.data.extract import extract_video
from twostream.flow import get_backend


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
    result = run(str(shared_data / "clips" / "ucf101"), "--kind", "ucf101", "--splits-dir", str(splits),
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


def test_export_from_shards(texture_video, tmp_path) -> None:
    backend = get_backend("opencv-cpu")
    rows = []
    for i, role in enumerate(["train", "test"]):
        video = texture_video(tmp_path / f"v{i}.avi", frames=5 + i, seed=i)
        row = pd.Series({"video_id": f"v{i}", "path": str(video), "label": i, "class_name": f"C{i}", "fps": 25.0,
                         "frames": 5 + i})
        extract_video(row, backend, tmp_path / "shards" / f"v{i}.h5", size=(48, 64), bound=20.0, quality=90, length=5)
        rows.append({**row.drop("frames").to_dict(), "split1": role, "shard": str(tmp_path / "shards" / f"v{i}.h5"),
                     "frames": 5 + i, "bytes": 0})
    pd.DataFrame(rows).to_csv(tmp_path / "index.csv", index=False)
    result = run("--from-shards", str(tmp_path / "index.csv"), "--name", "toy", "--out", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr[-2000:]
    assert lines(tmp_path / "out" / "toy_train_list_rawframes.txt") == [["v0", "5", "0"]]
    assert lines(tmp_path / "out" / "toy_val_list_rawframes_flow.txt") == [["v1", "5", "1"]]
    assert len(list((tmp_path / "out" / "v1").glob("flow_y_*.jpg"))) == 5


def test_manifest_labels_and_splits(texture_video, tmp_path) -> None:
    from twostream.data.ingest import manifest_columns

    rows = [{"video_id": f"v{i}", "path": str(texture_video(tmp_path / f"v{i}.avi", frames=3 + i)), "label": 1 - i,
             "class_name": f"C{1 - i}", "split1": role, "frames": 3 + i, "fps": 25.0, "width": 64, "height": 48}
            for i, role in enumerate(["test", "train"])]
    pd.DataFrame(rows, columns=manifest_columns(1)).to_csv(tmp_path / "manifest.csv", index=False)
    result = run("--manifest", str(tmp_path / "manifest.csv"), "--step", "0", "--name", "m",
                 "--out", str(tmp_path / "o"))
    assert result.returncode == 0, result.stderr[-2000:]
    assert lines(tmp_path / "o" / "m_train_list_rawframes.txt") == [["v1", "4", "0"]]
    assert lines(tmp_path / "o" / "m_val_list_rawframes.txt") == [["v0", "3", "1"]]
    assert (tmp_path / "o" / "m_classes.txt").read_text() == "0 C0\n1 C1\n"


def test_contradicting_resize_options_fail_before_any_work(texture_video, tmp_path) -> None:
    texture_video(tmp_path / "in" / "v.avi", frames=3)
    result = run(str(tmp_path / "in"), "--new-short", "32", "--new-width", "40", "--out", str(tmp_path / "out"))
    assert result.returncode == 2 and "either a new short side" in result.stderr
    assert not (tmp_path / "out").exists()


def complete(folder: Path) -> bool:
    """A folder a later run accepts: its marker's counts match its files."""
    done = json.loads((folder / ".done").read_text())
    return (len(list(folder.glob("img_*.jpg"))) == done["frames"]
            and len(list(folder.glob("flow_x_*.jpg"))) == len(list(folder.glob("flow_y_*.jpg"))) == done["flows"])


def test_resume_after_sigkill(texture_video, tmp_path) -> None:
    for i in range(5):
        texture_video(tmp_path / "in" / "A" / f"v{i}.avi", frames=12, seed=i)
    out = tmp_path / "out"
    args = (str(tmp_path / "in"), "--backend", "opencv-cpu", "--threads", "1", "--out", str(out))
    job = subprocess.Popen(command(*args), stderr=subprocess.DEVNULL, env=ENV)
    deadline = time.time() + 300
    while not list(out.glob("v?")) and job.poll() is None:  # until one video is done
        assert time.time() < deadline
        time.sleep(0.02)
    job.send_signal(signal.SIGKILL)
    job.wait()
    half = out / ".v4.tmp999999"  # what a kill while writing a folder leaves (the kill above may miss that moment)
    half.mkdir(exist_ok=True)
    (half / "img_00001.jpg").write_bytes(b"half")
    finished = sorted(out.glob("v?"))
    assert finished and all(complete(f) for f in finished)  # a final name is always complete
    marks = {f.name: (f / ".done").stat().st_mtime_ns for f in finished}
    result = run(*args)
    assert result.returncode == 0, result.stderr[-2000:]
    assert sorted(p.name for p in out.glob("v?")) == [f"v{i}" for i in range(5)]
    assert all(complete(f) for f in out.glob("v?")) and not list(out.glob(".v*"))
    assert {name: (out / name / ".done").stat().st_mtime_ns for name in marks} == marks  # kept, not redone
    assert f"({len(marks)} already done)" in result.stderr
    assert [row[1] for row in lines(out / "videos_rawframes.txt")] == ["12"] * 5


def test_two_level_export_from_shards(texture_video, tmp_path) -> None:
    """--two-level: folders <Class>/<id>, listed so, the split lists kept."""
    backend = get_backend("opencv-cpu")
    rows = []
    for i, role in enumerate(["train", "test"]):
        video = texture_video(tmp_path / f"v{i}.avi", frames=4, seed=i)
        row = pd.Series({"video_id": f"v{i}", "path": str(video), "label": i, "class_name": f"C{i}", "fps": 25.0,
                         "frames": 4})
        extract_video(row, backend, tmp_path / "shards" / f"v{i}.h5", size=(48, 64), bound=20.0, quality=90,
                      length=5)
        rows.append({**row.drop("frames").to_dict(), "split1": role, "shard": str(tmp_path / "shards" / f"v{i}.h5"),
                     "frames": 4, "bytes": 0})
    pd.DataFrame(rows).to_csv(tmp_path / "index.csv", index=False)
    result = run("--from-shards", str(tmp_path / "index.csv"), "--two-level", "--name", "toy", "--out",
                 str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr[-2000:]
    assert lines(tmp_path / "out" / "toy_train_list_rawframes.txt") == [["C0/v0", "4", "0"]]
    assert lines(tmp_path / "out" / "toy_val_list_rawframes_flow.txt") == [["C1/v1", "3", "1"]]
    assert (tmp_path / "out" / "C1" / "v1" / "flow_y_00003.jpg").is_file()


def tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
            and p.name != ".lock"}


def test_a_refused_write_stops_with_one_line_and_the_rerun_completes_as_a_clean_run(texture_video, tmp_path) -> None:
    """A file size limit (EFBIG, as a full disk's ENOSPC; no root needed) while a folder is written: one line naming
    the folder, exit 1, the folders already finished kept, no temporary left; the re-run without the limit gives
    the files of a clean run, byte for byte (before: every later video failed alike, each a failures row)."""
    for i in range(3):
        texture_video(tmp_path / "in" / "A" / f"v{i}.avi", frames=6, seed=i)
    late = tmp_path / "in" / "A" / "v2.avi"
    late.rename(tmp_path / "v2.avi")  # arrives after the first run
    args = ("--backend", "opencv-cpu", "--threads", "1", "--new-short", "32")
    out = tmp_path / "out"
    assert run(str(tmp_path / "in"), *args, "--out", str(out)).returncode == 0
    marks = {f.name: (f / ".done").stat().st_mtime_ns for f in out.glob("v?")}
    (tmp_path / "v2.avi").rename(late)

    def limit() -> None:
        import resource

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (200, resource.RLIM_INFINITY))  # a frame's JPEG is larger

    refused = subprocess.run(command(str(tmp_path / "in"), *args, "--out", str(out)), capture_output=True,
                             text=True, env=ENV, timeout=600, preexec_fn=limit)
    assert refused.returncode == 1, refused.stderr[-2000:]
    assert refused.stderr.splitlines()[-1] == f"twostream rawframes: error: cannot write v2 in folder {out}: File too large"
    assert "Traceback" not in refused.stderr
    assert {f.name: (f / ".done").stat().st_mtime_ns for f in out.glob("v?")} == marks  # kept, untouched
    assert not list(out.glob(".*tmp*"))

    assert run(str(tmp_path / "in"), *args, "--out", str(out)).returncode == 0
    clean = tmp_path / "clean"
    assert run(str(tmp_path / "in"), *args, "--out", str(clean)).returncode == 0
    assert sorted(p.name for p in out.glob("v?")) == ["v0", "v1", "v2"] and tree(out) == tree(clean)
