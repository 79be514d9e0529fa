"""The CMA real-data preset dry-runs against a fake Kinetics-400 + UCF-101 layout, before and after ingest."""

from __future__ import annotations

import collections
import re
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import yaml
from smk import REPO, prepared

from twostream import kinds, paths
from twostream.workflow import snakemake_command

pytestmark = pytest.mark.slow

PRESET = "workflow/presets/cma_kinetics_ucf101.yaml"


def partial_preset() -> dict:
    """The preset for a partial layout on purpose (1 of 4 UCF-101 videos, 1 of 3 Kinetics videos): min_present 0,
    and one training video makes a batch."""
    preset = yaml.safe_load((REPO / PRESET).read_text())
    for d in preset["datasets"].values():
        d["min_present"] = 0
    for section in ("train", "cma"):
        preset[section]["batch_size"] = 1
    return preset


CONFIG = prepared(partial_preset())  # where its outputs go (twostream.paths)
KINETICS = {"train.csv": [("abseiling", "aaaaaaaaaaa", 0, 10, "train"), ("zumba", "bbbbbbbbbbb", 5, 15, "train")],
            "validate.csv": [("zumba", "ccccccccccc", 1, 11, "validate")]}
UCF_TRAIN = ["ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1", "YoYo/v_YoYo_g08_c01.avi 2"]
UCF_TEST = ["ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi", "YoYo/v_YoYo_g01_c01.avi"]


def write_video(path: Path, frames: int = 6) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"FFV1"), 10.0, (32, 24))
    for i in range(frames):
        writer.write(np.full((24, 32, 3), 30 * i, np.uint8))
    writer.release()


@pytest.fixture
def work(tmp_path: Path) -> Path:
    """The preset's raw/ layout: Kinetics CSVs without videos, UCF-101 lists with one of four videos present."""
    annotations = tmp_path / "raw/kinetics400/annotations"
    annotations.mkdir(parents=True)
    (tmp_path / "raw/kinetics400/videos").mkdir()
    for name, rows in KINETICS.items():
        lines = ["label,youtube_id,time_start,time_end,split"] + [",".join(map(str, r)) for r in rows]
        (annotations / name).write_text("\n".join(lines) + "\n")
    lists = tmp_path / "raw/ucf101/ucfTrainTestlist"
    lists.mkdir(parents=True)
    (lists / "classInd.txt").write_text("1 ApplyEyeMakeup\r\n2 YoYo\r\n")
    for k in (1, 2, 3):
        (lists / f"trainlist0{k}.txt").write_text("\r\n".join(UCF_TRAIN) + "\r\n")
        (lists / f"testlist0{k}.txt").write_text("\r\n".join(UCF_TEST) + "\r\n")
    write_video(tmp_path / "raw/ucf101/UCF-101" / UCF_TRAIN[0].split()[0])
    write_video(tmp_path / "raw/kinetics400/videos/abseiling/aaaaaaaaaaa_000000_000010.mp4")
    (tmp_path / "preset.yaml").write_text(yaml.safe_dump(partial_preset()))
    return tmp_path


def snakemake(repo: Path, work: Path, *args: str) -> str:
    cmd, env = snakemake_command(work, *args, configfile=work / "preset.yaml", cores=1)
    proc = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


def dry_run(repo: Path, work: Path) -> tuple[collections.Counter, set[str]]:
    """(jobs per rule, output files) that a dry-run lists."""
    out = snakemake(repo, work, "-n")
    rules = collections.Counter(re.findall(r"^(?:local)?(?:rule|checkpoint) (\w+):", out, re.M))
    outputs = {f for line in re.findall(r"^\s+output: (.+)$", out, re.M) for f in line.split(", ")}
    return rules, outputs


def test_preset_dry_runs_before_and_after_ingest(repo: Path, work: Path) -> None:
    cma = {"cma_train": 6, "evaluate_cma": 6, "cma_tables": 2, "cma_fusion_figure": 2, "cma_attention_figure": 2}
    stage1 = {"train_stream": 8, "evaluate_stream": 8, "two_stream_table": 2, "index": 2, "training_curves": 2, "plan": 1,
              "summary": 1, "all": 1}
    rules, outputs = dry_run(repo, work)
    # Before ingest the chunks are unknown: no extract job yet, everything after it is listed.
    assert rules == collections.Counter({"ingest": 2, **stage1, **cma})
    iterations = {paths.cma_model(CONFIG, d, 1, n) for d in ("kinetics400", "ucf101") for n in (1, 2, 3)}
    assert {o for o in outputs if "/cma-" in o and o.endswith(".pt")} == iterations  # the first split only
    run = kinds.run_dir(CONFIG)
    assert {f"{run}/kinetics400/cma_table1.csv", f"{run}/ucf101/cma_table2.csv", f"{run}/ucf101/cma_attention.png",
            f"{run}/kinetics400/cma_fusion_weights.png"} <= outputs
    assert set(kinds.targets(CONFIG)) <= outputs

    # Ingest for real; no ImageNet weights needed for that (nor available offline).
    ingest = {d: paths.ingest_dir(CONFIG, d) for d in ("kinetics400", "ucf101")}
    snakemake(repo, work, f"{ingest['kinetics400']}/manifest.csv", f"{ingest['ucf101']}/manifest.csv",
              "--config", "model={pretrained: none}")
    assert len(pd.read_csv(work / ingest["kinetics400"] / "ingest_failures.csv")) == 2  # one Kinetics video exists
    ucf_failures = pd.read_csv(work / ingest["ucf101"] / "ingest_failures.csv")
    assert len(ucf_failures) == 3 and set(ucf_failures["reason"]) == {"missing file"}
    assert list(pd.read_csv(work / ingest["ucf101"] / "manifest.csv")["video_id"]) == ["v_ApplyEyeMakeup_g08_c01"]

    rules, outputs = dry_run(repo, work)
    assert rules == collections.Counter({"extract": 2, **stage1, **cma})  # one chunk each: one video each
    assert f"{paths.data(CONFIG, 'ucf101')}/chunks/0000.csv" in outputs
