"""A flow+pack job killed with SIGKILL leaves nothing that a later run accepts."""

from __future__ import annotations

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
from specs import extraction

from twostream.data.ingest import manifest_columns
from twostream.data.shards import Shard, verify
from twostream.files import write_csv

VIDEOS = 6


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    root = tmp_path_factory.mktemp("kill")
    rows = []
    rng = np.random.default_rng(0)
    for i in range(VIDEOS):
        path = root / f"v{i}.avi"
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"FFV1"), 25, (80, 60))
        base = cv2.GaussianBlur((rng.random((60, 80, 3)) * 255).astype(np.uint8), (0, 0), 2)
        for t in range(10):
            writer.write(np.roll(base, t, axis=1))
        writer.release()
        rows.append({"video_id": f"v{i}", "path": str(path), "label": 0, "class_name": "A", "split1": "train",
                     "frames": 10, "fps": 25.0, "width": 80, "height": 60})
    write_csv(pd.DataFrame(rows, columns=manifest_columns(1)), root / "manifest.csv")
    return root / "manifest.csv"


def extract(manifest, out):
    cmd = [sys.executable, "-m", "twostream", "extract", "--spec", extraction(VIDEOS, (60, 80)), "--manifest", str(manifest), "--chunk", "0",
           "--shards", str(out / "shards"), "--threads", "1", "--out", str(out / "chunk.csv")]
    # This checkout's package (python -m twostream would otherwise find whichever one is installed).
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2] / "src"))
    return subprocess.Popen(cmd, stderr=subprocess.DEVNULL, env=env)


def accepted(out) -> list[str]:
    """Shards that a later run would read: every final-named file must open and verify."""
    names = []
    for path in sorted((out / "shards").glob("*.h5")):
        verify(path)
        names.append(path.name)
    return names


@pytest.mark.parametrize("after", [1, 4])
def test_sigkill_mid_chunk(manifest, tmp_path, after) -> None:
    job = extract(manifest, tmp_path)
    deadline = time.time() + 120
    while len(list((tmp_path / "shards").glob("*.h5"))) < after and time.time() < deadline:
        if job.poll() is not None:
            pytest.fail("the job ended before it could be killed")
        time.sleep(0.01)
    os.kill(job.pid, signal.SIGKILL)
    job.wait()
    assert not (tmp_path / "chunk.csv").exists()  # the chunk's index is only written when all is done
    done = accepted(tmp_path)
    assert after <= len(done) < VIDEOS
    # A re-run (what Snakemake does for the incomplete job) completes and leaves no temporary files.
    assert extract(manifest, tmp_path).wait() == 0
    assert len(accepted(tmp_path)) == VIDEOS
    assert not [p for p in (tmp_path / "shards").iterdir() if not p.name.endswith(".h5")]
    index = pd.read_csv(tmp_path / "chunk.csv")
    assert index["status"].eq("ok").all() and index["frames"].eq(10).all()
    with Shard(index.loc[0, "shard"]) as s:
        assert s.frames == 10
