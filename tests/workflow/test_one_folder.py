"""One working folder for several configurations (twostream.paths): a trial grows into the full dataset keeping
every shard, and the two papers' presets (tiny equivalents) run one after the other without redoing or
overwriting anything of each other."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from smk import REPO, TINY, data_dir, jobs, prepared, snakemake

from twostream import kinds, paths

pytestmark = pytest.mark.slow
TOPS = ("data", "results", "shards", "models", "logs")


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with `ext`, a dataset in UCF-101's official layout (2 colours x 2 directions: 4 classes, one clip
    per class and group, one validation clip per class)."""
    work = tmp_path_factory.mktemp("one_folder")
    spec = ('{"colours": 2, "directions": 2, "groups": 3, "clips_per_group": 1, "val_clips": 1, "frames": 6,'
            ' "size": [24, 24], "seed": 3}')
    made = subprocess.run([sys.executable, "-m", "twostream", "synthetic", "--spec", spec, "--out", str(work / "ext")],
                          env=dict(os.environ, PYTHONPATH=str(REPO / "src")), capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    return work


def base(**ucf101) -> dict:
    """tiny.yaml's settings with `ext` as dataset ucf101 (the name both presets use), no paper section."""
    config = yaml.safe_load(TINY.read_text())
    for section in ("cmmp", "cma", "conv_fusion"):
        config.pop(section)
    config["datasets"] = {"ucf101": {"kind": "ucf101", "root": "ext/videos", "splits_dir": "ext/splits", "splits": [1],
                                     "size": [24, 24], "crop": 20, "hflip": False, **ucf101}}
    config["flow"]["chunk_size"] = 8
    config["train"].update(batch_size=4, rgb={"lr": 0.01, "steps": 1}, flow={"lr": 0.01, "steps": 1})
    config["eval"].update(test_segments=1, batch_size=4)
    return config


def files(work: Path) -> dict[Path, tuple[int, bytes]]:
    """Every output file with its mtime and bytes."""
    return {p: (p.stat().st_mtime_ns, p.read_bytes()) for top in TOPS for p in (work / top).rglob("*") if p.is_file()}


def test_a_trial_grows_into_the_full_dataset_computing_only_the_new_videos(work: Path) -> None:
    trial = base(subset={"classes": 2, "per_class": 1})
    out = snakemake(work, trial, f"{data_dir(trial, 'ucf101')}/shards.csv")
    assert out.returncode == 0, out.stderr[-3000:]
    shards = paths.shards_dir(prepared(trial), "ucf101")
    kept = {p: p.stat().st_mtime_ns for p in (work / shards).glob("*.h5")}
    assert len(kept) == 2 * 3  # 2 classes x (train, test, val) of split 1
    before = files(work)

    full = base()
    assert paths.shards_dir(prepared(full), "ucf101") == shards  # one shard folder: same recipe
    out = snakemake(work, full, f"{data_dir(full, 'ucf101')}/shards.csv")
    assert out.returncode == 0, out.stderr[-3000:]
    now = {p: p.stat().st_mtime_ns for p in (work / shards).glob("*.h5")}
    assert len(now) == 4 * 4  # every video of the 4 classes (3 groups + 1 validation clip each)
    assert {p: now[p] for p in kept} == kept  # the trial's shards kept, not recomputed
    after = files(work)
    assert {p: after[p] for p in before} == before  # nothing of the trial overwritten


def cmmp_like() -> dict:
    """The CMMP preset in small: ucf101 at one frame size, CMMP (one variant, one step)."""
    config = base()
    config["cmmp"] = {"variants": ["cmmp"], "batch_size": 4, "schedule": {"lr": 0.001, "steps": 1}}
    return config


def cma_like() -> dict:
    """The CMA preset in small: ucf101 at another frame size, other stage-1 settings, CMA."""
    config = base(size=[22, 22])
    config["train"].update(rgb={"lr": 0.02, "steps": 1}, flow={"lr": 0.02, "steps": 1})
    config["cma"] = {"iterations": 1, "batch_size": 4, "schedule": {"lr": 0.01, "steps": 1},
                     "figures": {"weights": ["0:1", "1:0"], "videos": 1, "queries": 1}}
    return config


def test_both_papers_in_one_folder_redo_nothing_of_each_other_and_overwrite_nothing(work: Path) -> None:
    first = snakemake(work, cmmp_like())
    assert first.returncode == 0, first.stderr[-3000:]
    cmmp_files = files(work)

    planned = snakemake(work, cma_like(), "-n")
    assert planned.returncode == 0, planned.stderr[-3000:]
    listed = jobs(planned.stdout)
    assert ("ingest", "ucf101") not in {(rule, w.get("dataset")) for rule, w, _ in listed}  # same source: shared
    assert {"extract", "train_stream", "cma_train", "summary"} <= {rule for rule, _, _ in listed}
    second = snakemake(work, cma_like())
    assert second.returncode == 0, second.stderr[-3000:]
    after = files(work)
    assert {p: after[p] for p in cmmp_files} == cmmp_files  # CMMP's outputs untouched
    assert len(after) > len(cmmp_files)

    cmmp, cma = prepared(cmmp_like()), prepared(cma_like())
    assert paths.manifest(cmmp, "ucf101") == paths.manifest(cma, "ucf101")  # equal settings: one file
    assert paths.shards_dir(cmmp, "ucf101") != paths.shards_dir(cma, "ucf101")  # 24x24 and 22x22 frames
    assert paths.stream_model(cmmp, "ucf101", "rgb", 1) != paths.stream_model(cma, "ucf101", "rgb", 1)
    assert kinds.run_dir(cmmp) != kinds.run_dir(cma)
    for config in (cmmp_like(), cma_like()):  # each is complete: nothing to redo for either
        again = snakemake(work, config, "-n")
        assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr, again.stdout[-3000:]
