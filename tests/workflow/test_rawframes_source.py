"""A rawframes dataset through Snakemake: the tiny run's videos as rawframes give its tables; a denseflow tree with
defects runs to its tables, using every usable video and listing the others."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import yaml
from smk import REPO, TINY, data_dir, prepared, run_dir, snakemake, tiny_config

from twostream import paths
from twostream.data.shards import Shard

pytestmark = pytest.mark.slow

REFERENCE = tiny_config(Path())  # the end-to-end run's config: its paths (twostream.paths)


def small_config() -> dict:
    """tiny.yaml, stage 1 only (the streams and the two-stream table, whose config is the end-to-end run's)."""
    config = yaml.safe_load(TINY.read_text())
    for section in ("cmmp", "cma", "conv_fusion"):
        config.pop(section)
    return config


def rawframes_config(root: Path, splits_dir: Path, **rawframes) -> dict:
    config = small_config()
    tiny = config["datasets"]["tiny"]
    config["datasets"]["tiny"] = {"kind": "ucf101", "source": "rawframes", "root": str(root),
                                  "splits_dir": str(splits_dir), "rawframes": rawframes,
                                  **{k: tiny[k] for k in ("splits", "crop", "hflip")}}
    return config


@pytest.fixture(scope="module")
def reference(run: Path) -> Path:
    """The tiny synthetic dataset from its videos to every table: the end-to-end run the workflow tests share."""
    return run


def table(config: dict) -> str:
    """tiny's two-stream table in a config's run folder."""
    return f"{run_dir(config)}/tiny/two_stream.csv"


def reference_index(reference: Path) -> Path:
    return reference / data_dir(REFERENCE, "tiny") / "shards.csv"


def splits_dir(reference: Path) -> Path:
    """The split files of the reference's embedded dataset."""
    return reference / paths.synthetic_dir(prepared(REFERENCE), "tiny") / "splits"


def export(reference: Path, out: Path) -> None:
    """``twostream rawframes --from-shards --two-level``: the reference's shards as Class/video folders."""
    proc = subprocess.run([sys.executable, "-m", "twostream", "rawframes", "--from-shards",
                           str(reference_index(reference)), "--two-level", "--out", str(out)],
                          cwd=reference, env=dict(os.environ, PYTHONPATH=str(REPO / "src")), capture_output=True,
                          text=True)  # the index's shard paths are relative to the run's folder
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_the_exported_rawframes_give_the_same_table(reference, tmp_path) -> None:
    """This project's export (1-based, its encoding) imported: shards of the same JPEG bytes, so the same table."""
    export(reference, tmp_path / "rawframes")
    config = rawframes_config(tmp_path / "rawframes", splits_dir(reference), encoding="twostream")
    proc = snakemake(tmp_path, config, table(config))
    assert proc.returncode == 0, proc.stderr[-5000:]
    assert (tmp_path / "logs/import_rawframes").is_dir() and not (tmp_path / "logs/extract").exists()
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / table(config)), pd.read_csv(reference / table(REFERENCE)))
    ours = pd.read_csv(tmp_path / data_dir(config, "tiny") / "shards.csv").set_index("video_id")
    theirs = pd.read_csv(reference_index(reference)).set_index("video_id")
    assert sorted(ours.index) == sorted(theirs.index)
    vid = ours.index[0]
    with Shard(tmp_path / ours.at[vid, "shard"]) as a, Shard(reference / theirs.at[vid, "shard"]) as b:
        assert a.frames == b.frames
        assert [a.rgb_bytes(t).tobytes() for t in range(a.frames)] == [b.rgb_bytes(t).tobytes() for t in range(a.frames)]
        assert [x.tobytes() for x in a.flow_bytes(0, a.frames - 1)] == [
            x.tobytes() for x in b.flow_bytes(0, b.frames - 1)]


def denseflow_tree(reference: Path, root: Path) -> list[str]:
    """The reference's shards as denseflow writes rawframes: Class/video folders numbered from 0, flow in
    denseflow's encoding at bound 20 (JPEG quality 95); returns the video ids, sorted."""
    index = pd.read_csv(reference_index(reference)).sort_values("video_id")
    for row in index.itertuples():
        folder = root / row.class_name / row.video_id
        folder.mkdir(parents=True)
        with Shard(reference / row.shard) as shard:
            for t in range(shard.frames):
                (folder / f"img_{t:05d}.jpg").write_bytes(shard.rgb_bytes(t).tobytes())
            for t in range(shard.frames - 1):
                v = (shard.flow(t, 1)[0].astype(np.float64) - 128) / 127 * 20
                levels = np.rint(255 * (v + 20) / 40).astype(np.uint8)
                for c, axis in enumerate("xy"):
                    cv2.imwrite(str(folder / f"flow_{axis}_{t:05d}.jpg"), levels[..., c],
                                [cv2.IMWRITE_JPEG_QUALITY, 95])
    return list(index["video_id"])


def test_a_denseflow_tree_with_defects_runs_and_lists_what_it_left_out(reference, tmp_path) -> None:
    root = tmp_path / "rawframes"
    ids = denseflow_tree(reference, root)
    folders = {vid: next(root.glob(f"*/{vid}")) for vid in ids}
    missing, gap, truncated, short_y, small_flow, extra = ids[:6]
    shutil.rmtree(folders[missing])
    (folders[gap] / "img_00003.jpg").unlink()
    jpeg = folders[truncated] / "img_00005.jpg"
    jpeg.write_bytes(jpeg.read_bytes()[:200])
    (folders[short_y] / "flow_y_00006.jpg").unlink()
    for axis in "xy":
        cv2.imwrite(str(folders[small_flow] / f"flow_{axis}_00000.jpg"), np.full((16, 16), 128, np.uint8))
        shutil.copy(folders[extra] / f"flow_{axis}_00006.jpg", folders[extra] / f"flow_{axis}_00007.jpg")
    config = rawframes_config(root, splits_dir(reference))
    data = data_dir(config, "tiny")
    proc = snakemake(tmp_path, config, table(config), f"{data}/failures.csv")
    assert proc.returncode == 0, proc.stderr[-5000:]
    naming = yaml.safe_load((tmp_path / paths.ingest_dir(prepared(config), "tiny") / "rawframes_naming.json").read_text())
    assert (naming["rgb"], naming["flow"], naming["rgb_start"], naming["flow_start"]) == (
        "img_{:05d}.jpg", "flow_{}_{:05d}.jpg", 0, 0)
    assert data.startswith("results/tiny/rawframes-")
    index = pd.read_csv(tmp_path / data / "shards.csv").set_index("video_id")
    assert sorted(index.index) == sorted(set(ids) - {missing, small_flow})  # every usable video
    assert index.loc[[gap, truncated, short_y, extra], "frames"].tolist() == [3, 5, 7, 8]
    assert index.drop([gap, truncated, short_y])["frames"].eq(8).all()
    failures = pd.read_csv(tmp_path / data / "failures.csv", keep_default_na=False)
    reasons = {(r.video, r.stage): r.reason for r in failures.itertuples()}
    assert set(reasons) == {(missing, "ingest"), (gap, "import"), (truncated, "import"), (short_y, "import"),
                            (small_flow, "import"), (extra, "import")}
    assert reasons[(missing, "ingest")].startswith("missing folder")
    assert "img_00003.jpg missing" in reasons[(gap, "import")]
    assert "img_00005.jpg: truncated JPEG" in reasons[(truncated, "import")]
    assert "7 x and 6 y flow fields for 8 frames: cut to 7 frames" in reasons[(short_y, "import")]
    assert reasons[(small_flow, "import")] == "flow is 16x16 in flow_x_00000.jpg, frames are 32x32"
    assert "fields after the 7th left out" in reasons[(extra, "import")]
    two_stream = pd.read_csv(tmp_path / table(config))
    assert list(two_stream["stream"]) == ["RGB", "Flow", "Fused"]
    assert two_stream["videos"].eq((index["split1"] == "test").sum()).all()  # the test videos that are left
