"""``twostream ingest --rawframes`` then ``twostream import-rawframes`` and ``twostream index --stage import``: a
denseflow tree to a shard index, the naming detected once and handed on, a defect listed at its stage."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
from specs import spec

from twostream import specs
from twostream.data.shards import Shard

SRC = Path(__file__).resolve().parents[2] / "src"
PATHS = [str(SRC), os.environ.get("PYTHONPATH")]
ENV = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join(filter(None, PATHS)))


def twostream(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "twostream", *args], capture_output=True, text=True, env=ENV,
                          timeout=300)


def test_ingest_import_index(texture_video, denseflow_tree, tmp_path) -> None:
    clips = [(f"C{i % 2}/v{i}", texture_video(tmp_path / "clips" / f"v{i}.avi", frames=6, seed=i)) for i in range(4)]
    denseflow_tree(tmp_path / "raw", clips, bound=15.0)
    (tmp_path / "raw/C1/v3/img_00002.jpg").unlink()  # a gap: v3 keeps 2 frames
    lists = tmp_path / "train.txt", tmp_path / "val.txt"
    lists[0].write_text("C0/v0 6 0\nC1/v1 6 1\n")
    lists[1].write_text("C0/v2 6 0\nC1/v3 6 1\nC1/v9 6 1\n")
    results = tmp_path / "results"
    made = twostream("ingest", "--kind", "mmaction2", "--root", str(tmp_path / "raw"), "--lists", *map(str, lists),
                     "--rawframes", str(results / "naming.json"), "--out", str(results / "manifest.csv"),
                     "--failures", str(results / "ingest_failures.csv"))
    assert made.returncode == 0, made.stderr[-2000:]
    assert "dataset 'raw': 5 videos listed, 4 used, 1 failed, 0 skipped" in made.stdout
    naming = json.loads((results / "naming.json").read_text())
    assert (naming["rgb"], naming["flow"], naming["rgb_start"]) == ("img_{:05d}.jpg", "flow_{}_{:05d}.jpg", 0)
    rawframes = {"encoding": "denseflow", "bound": 15.0}
    for chunk in (0, 1):
        done = twostream("import-rawframes", "--spec", spec(specs.ImportSpec, rawframes=rawframes, chunk_size=2),
                         "--manifest", str(results / "manifest.csv"), "--naming", str(results / "naming.json"),
                         "--chunk", str(chunk), "--shards", str(tmp_path / "shards"),
                         "--out", str(results / f"chunk{chunk}.csv"))
        assert done.returncode == 0, done.stderr[-2000:]
    indexed = twostream("index", "--dataset", "raw", "--manifest", str(results / "manifest.csv"), "--ingest-failures",
                        str(results / "ingest_failures.csv"), "--chunks", str(results / "chunk0.csv"),
                        str(results / "chunk1.csv"), "--stage", "import", "--out", str(results / "shards.csv"),
                        "--failures", str(results / "failures.csv"))
    assert indexed.returncode == 0, indexed.stderr[-2000:]
    index = pd.read_csv(results / "shards.csv").set_index("video_id")
    assert index["frames"].to_dict() == {"C0/v0": 6, "C0/v2": 6, "C1/v1": 6, "C1/v3": 2}
    assert index["split1"].to_dict() == {"C0/v0": "train", "C0/v2": "test", "C1/v1": "train", "C1/v3": "test"}
    failures = pd.read_csv(results / "failures.csv")
    assert failures[["video", "stage"]].values.tolist() == [["C1/v9", "ingest"], ["C1/v3", "import"]]
    assert "img_00002.jpg missing" in failures["reason"][1]
    with Shard(index.at["C0/v0", "shard"]) as shard:
        assert (shard.attrs["flow_encoding"], shard.attrs["flow_encoding_bound"], shard.attrs["flow_bound"]) == (
            "denseflow", 15.0, 20.0)
        assert shard.rgb_bytes(5).tobytes() == (tmp_path / "raw/C0/v0/img_00005.jpg").read_bytes()


def test_naming_keys_without_rawframes_are_refused(tmp_path) -> None:
    made = twostream("ingest", "--kind", "folder", "--root", str(tmp_path), "--start-index", "1", "--seed", "0",
                     "--test-fraction", "0.5", "--out", str(tmp_path / "m.csv"), "--failures", str(tmp_path / "f.csv"))
    assert made.returncode == 2 and "are for --rawframes" in made.stderr
