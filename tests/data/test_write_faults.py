"""Disk full and read-only folders while writing shards (real processes on real small file systems).

The mounts need root (tmpfs); elsewhere the tests skip with the reason.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from specs import extraction

from twostream.data.ingest import manifest_columns
from twostream.data.shards import verify
from twostream.files import write_csv

REPO = Path(__file__).resolve().parents[2]
VIDEOS = 5


def mount_skip_reason() -> str | None:
    if sys.platform != "linux" or os.geteuid() != 0:
        return "needs root on Linux to mount a small tmpfs"
    return None


pytestmark = pytest.mark.skipif(mount_skip_reason() is not None, reason=str(mount_skip_reason()))


@pytest.fixture
def mount(tmp_path):
    """mount(folder, size, ro=False): a tmpfs at ``folder``; everything is unmounted afterwards."""
    mounted = []

    def make(folder: Path, size: str, ro: bool = False) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        options = f"size={size}" + (",ro" if ro else "")
        proc = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True,
                              text=True)
        if proc.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
        mounted.append(folder)
        return folder

    yield make
    for folder in reversed(mounted):
        subprocess.run(["umount", str(folder)], check=False)


@pytest.fixture(scope="module")
def manifest(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("videos")
    rows = []
    rng = np.random.default_rng(0)
    for i in range(VIDEOS):
        path = root / f"v{i}.avi"
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"FFV1"), 25, (64, 48))
        base = (rng.random((48, 64, 3)) * 255).astype(np.uint8)  # noise: shards of ~100 kB that hardly compress
        for t in range(8):
            writer.write(np.roll(base, t, axis=1))
        writer.release()
        rows.append({"video_id": f"v{i}", "path": str(path), "label": 0, "class_name": "A", "split1": "train",
                     "frames": 8, "fps": 25.0, "width": 64, "height": 48})
    write_csv(pd.DataFrame(rows, columns=manifest_columns(1)), root / "manifest.csv")
    return root / "manifest.csv"


def extract(manifest: Path, shards: Path, out: Path) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "twostream", "extract", "--spec", extraction(VIDEOS, (48, 64)), "--manifest",
           str(manifest), "--chunk", "0", "--shards", str(shards), "--threads", "1", "--out", str(out)]
    return subprocess.run(cmd, env=dict(os.environ, PYTHONPATH=str(REPO / "src")), capture_output=True, text=True)


def error_lines(proc: subprocess.CompletedProcess) -> list[str]:
    """The error lines (a progress bar's carriage-return updates may share the terminal line)."""
    parts = proc.stderr.replace("\r", "\n").splitlines()
    return [part for part in parts if part.startswith("twostream extract: error:")]


def test_disk_full_fails_the_chunk_clearly_and_the_rerun_after_freeing_space_matches_a_clean_run(
        manifest, tmp_path, mount) -> None:
    clean = tmp_path / "clean"
    assert extract(manifest, clean / "shards", clean / "chunk.csv").returncode == 0
    sizes = sorted(p.stat().st_size for p in (clean / "shards").glob("*.h5"))
    full = mount(tmp_path / "full", f"{(sum(sizes[:3]) + sizes[3] // 2) // 1024}k")  # room for three and a half
    proc = extract(manifest, full / "shards", tmp_path / "chunk.csv")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    (line,) = error_lines(proc)
    assert f"in folder {full / 'shards'}: No space left on device" in line
    assert not (tmp_path / "chunk.csv").exists()  # the chunk failed: no index of it
    names = os.listdir(full / "shards")
    assert all(name.endswith(".h5") for name in names) and len(names) == 3  # no partial shard, no temp file
    for name in names:
        verify(full / "shards" / name)
    subprocess.run(["mount", "-o", "remount,size=64m", str(full)], check=True)  # space freed
    assert extract(manifest, full / "shards", tmp_path / "chunk.csv").returncode == 0
    for shard in (clean / "shards").glob("*.h5"):
        assert (full / "shards" / shard.name).read_bytes() == shard.read_bytes()
    index = pd.read_csv(tmp_path / "chunk.csv")
    assert index["status"].eq("ok").all()


def test_a_read_only_shards_folder_is_one_clear_line_naming_it(manifest, tmp_path, mount) -> None:
    shards = mount(tmp_path / "shards", "1m", ro=True)
    proc = extract(manifest, shards, tmp_path / "chunk.csv")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    (line,) = error_lines(proc)
    assert f"in folder {shards}: Read-only file system" in line
