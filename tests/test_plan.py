"""The cost before the run (twostream plan): counts equal what the run will find, and on the shared real clips
the flow time and shard disk estimated by the calibration are within 2x of what the run then takes."""

from __future__ import annotations

import copy
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from twostream import kinds, paths, plan
from twostream.config import prepare
from twostream.data.ingest import ingest
from twostream.workflow import snakemake_command

REPO = Path(__file__).resolve().parents[1]


def tiny(**datasets) -> dict:
    config = yaml.safe_load((REPO / "tests/workflow/tiny.yaml").read_text())
    config["datasets"] = datasets or config["datasets"]
    prepare(config)
    return config


def test_embedded_dataset_counts_follow_its_generator() -> None:
    config = tiny()
    found = plan.videos(config, "tiny", Path("/nonexistent"))
    # tiny.yaml: 3 colours x 2 directions, 3 groups x 2 clips + 1 validation clip, 8 frames each
    assert (found.count, found.frames, found.pairs) == (42, 42 * 8, 42 * 7)
    assert found.roles == {1: {"train": 24, "test": 12, "val": 6}}


def test_counts_from_split_files_equal_what_ingest_finds(tmp_path, shared_data) -> None:
    ucf = {"kind": "ucf101", "root": str(shared_data / "clips/ucf101"), "splits_dir": str(shared_data / "splits/ucf101"),
           "splits": [1, 2], "size": [32, 40], "crop": 28}
    config = tiny(ucf101=ucf)
    found = plan.videos(config, "ucf101", tmp_path)
    manifest, _ = ingest("ucf101", ucf["root"], splits_dir=ucf["splits_dir"], splits=[1, 2])
    assert found.count == len(manifest) and found.frames == manifest["frames"].sum()
    for k in (1, 2):
        assert found.roles[k] == {r: int((manifest[f"split{k}"] == r).sum()) for r in plan.ROLES}
    assert "4 of 13320 listed videos found" in found.source


def test_training_steps_are_the_trainers_own() -> None:
    config = tiny()
    rows = dict((name, (runs, steps, batch)) for name, runs, steps, batch in plan.training(config, "tiny", {
        1: {"train": 24, "test": 12, "val": 6}}))
    # tiny.yaml: streams 1 epoch of 24 // 6 = 4 steps; CMMP 2 steps, 3 variants; CMA 2 iterations of 1 epoch
    assert rows == {"rgb stream": (1, 4, 6), "flow stream": (1, 4, 6), "CMMP": (3, 2, 6), "CMA iteration": (2, 4, 6),
                    "conv fusion": (1, 4, 6)}


def shard_run_config(shared_data: Path) -> dict:
    return {"seed": 0,
            "datasets": {"ucf101": {"kind": "ucf101", "root": str(shared_data / "clips/ucf101"),
                                    "splits_dir": str(shared_data / "splits/ucf101"), "splits": [1],
                                    "size": [96, 128], "crop": 88,
                                    "min_present": 0}},  # 4 of UCF-101's 13,320 listed videos, on purpose
            "flow": {"backend": "auto", "device": "cpu", "bound": 20, "chunk_size": 2},
            "model": {"depth": 10, "pretrained": "none"},
            "train": {"segments": 3, "batch_size": 2, "rgb": {"lr": 0.01, "epochs": 1},
                      "flow": {"lr": 0.01, "epochs": 1}},
            "eval": {"test_segments": 2, "crops": 1}}


@pytest.mark.slow
def test_flow_time_and_disk_within_2x_of_the_run_on_the_shared_clips(tmp_path, shared_data) -> None:
    """The 4 real UCF-101 clips (742 frames of 320x240) at 96x128 in 2 extract jobs, 2 cores."""
    raw = shard_run_config(shared_data)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw))
    config = copy.deepcopy(raw)
    prepare(config)
    manifest = paths.manifest(config, "ucf101")
    cmd, env = snakemake_command(tmp_path, manifest, configfile=path)
    assert subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True).returncode == 0

    threads = torch.get_num_threads()
    try:
        planned = plan.plan_dataset(config, "ucf101", tmp_path, cores=2)
    finally:
        torch.set_num_threads(threads)
    estimate = planned.flow.seconds(planned.videos.count, planned.videos.pairs, planned.chunks)
    assert planned.chunks == 2 and planned.videos.pairs == 742 - 4

    chunks = [f"{paths.data(config, 'ucf101')}/chunks/{i:04d}.csv" for i in range(2)]
    cmd, env = snakemake_command(tmp_path, *chunks, configfile=path, cores=2)
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True)
    took = time.perf_counter() - start
    assert done.returncode == 0, done.stderr[-3000:]
    disk = sum(p.stat().st_size for p in (tmp_path / paths.shards_dir(config, "ucf101")).glob("*.h5"))
    estimated_disk = planned.flow.bytes_per_frame * planned.videos.frames
    print(f"flow: estimated {estimate:.1f} s, took {took:.1f} s; disk: estimated {estimated_disk / 1e6:.2f} MB, "
          f"{disk / 1e6:.2f} MB", file=sys.stderr)
    assert took / 2 <= estimate <= took * 2
    assert disk / 2 <= estimated_disk <= disk * 2


def test_plan_command_prints_every_dataset(capsys, tmp_path) -> None:
    from twostream.cli import main

    path = tmp_path / "c.yaml"
    path.write_text((REPO / "tests/workflow/tiny.yaml").read_text())
    assert main(["plan", "--configfile", str(path), "--config", "datasets={tiny: {size: [24, 24], crop: 20}}",
                 "--no-calibration", "--directory", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "tiny: synthetic at 24x24, splits 1" in out and "videos       42 (split 1: 24 train, 12 test, 6 val)" in out
    assert "frame pairs  294 in 4 extract jobs" in out and "training     rgb stream: 1 x 4 steps of 6" in out
    assert f"tables and summary: {kinds.run_dir(tiny(tiny={**tiny()['datasets']['tiny'], 'size': [24, 24], 'crop': 20}))}" \
        in out


def test_plan_markdown_is_a_summary_section() -> None:
    from twostream.cli.plan import markdown

    text = markdown(["a", "  b"])
    assert text.startswith("# Plan and cost\n") and "```text\na\n  b\n```" in text
