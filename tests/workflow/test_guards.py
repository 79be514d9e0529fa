"""Dataset-level mistakes stop Snakemake before any flow is computed, with one line on the console.

A wrong root (no listed video under it), a training set smaller than one batch, a configured GPU this
machine lacks: each run below stops after at most an ingest job, and prints the line. Dry runs show that
only the configured splits' files are required and that paths reach the shell quoted.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
import yaml
from smk import TINY, data_dir, jobs, prepared, shell_commands, snakemake

from twostream import paths

pytestmark = pytest.mark.slow


def base() -> dict:
    config = yaml.safe_load(TINY.read_text())
    for paper in ("cmmp", "cma", "conv_fusion"):
        config.pop(paper, None)
    return config


def ucf_tree(work: Path, texture_video, splits=(1, 2, 3)) -> None:
    """``data/UCF-101/<Class>/`` with 10 tiny videos, and the split files of ``splits`` in ``lists/``."""
    videos = [f"{c}/v_{c}_{k}.avi" for c in ("Alpha", "Beta") for k in range(5)]
    for name in videos:
        texture_video(work / "data" / "UCF-101" / name)
    (work / "lists").mkdir()
    (work / "lists" / "classInd.txt").write_text("1 Alpha\n2 Beta\n")
    for k in splits:
        (work / "lists" / f"trainlist0{k}.txt").write_text("".join(f"{v}\n" for v in videos[::2]))
        (work / "lists" / f"testlist0{k}.txt").write_text("".join(f"{v}\n" for v in videos[1::2]))


def ucf(root: str, splits=(1,)) -> dict:
    return {"kind": "ucf101", "root": root, "splits_dir": "lists", "splits": list(splits), "size": [32, 32],
            "crop": 28}


def test_a_wrong_root_stops_before_any_flow_with_one_line(tmp_path, texture_video) -> None:
    ucf_tree(tmp_path, texture_video)
    config = {**base(), "datasets": {"mine": ucf("data")}}  # one level too high
    proc = snakemake(tmp_path, config, f"{data_dir(config, 'mine')}/shards.csv")
    assert proc.returncode != 0 and not list(tmp_path.glob("results/mine/*/chunks")) and not (tmp_path / "shards").exists()
    line = (f"twostream ingest: error: dataset 'mine': only 0 of 10 listed videos are under the root "
            f"{tmp_path / 'data'} (0%, fewer than min_present 0.8); not there: {tmp_path / 'data'}/Alpha/v_Alpha_0.*, "
            f"{tmp_path / 'data'}/Alpha/v_Alpha_1.*; did you mean root: {tmp_path / 'data' / 'UCF-101'}? (10 of 10 "
            "missing videos looked for are there); min_present: 0 uses whatever is there")
    assert line in proc.stdout.splitlines(), proc.stdout + proc.stderr[-3000:]  # printed again at the run's end
    assert "Traceback" not in proc.stdout + proc.stderr


def test_a_training_set_smaller_than_one_batch_stops_before_any_flow(tmp_path, texture_video) -> None:
    for c in ("run", "walk"):
        for k in range(3):  # test_fraction 0.3: 1 test and 2 training videos per class, 4 in all
            texture_video(tmp_path / "videos" / c / f"{k}.avi")
    config = {**base(), "datasets": {"few": {"kind": "folder", "root": "videos", "splits": [1], "size": [32, 32],
                                             "crop": 28}}}
    proc = snakemake(tmp_path, config, paths.stream_model(prepared(config), "few", "rgb", 1))
    assert proc.returncode != 0 and (tmp_path / paths.manifest(prepared(config), "few")).is_file()
    assert not list(tmp_path.glob("results/few/*/chunks"))
    assert ("config error: dataset 'few': split 1 has 4 training videos, fewer than one stream batch "
            "(train.batch_size: 6): add videos or lower train.batch_size") in proc.stderr.splitlines(), proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_configured_gpu_this_machine_lacks_stops_before_any_job(tmp_path) -> None:
    config = base()
    config["train"]["device"] = "cuda:99"
    proc = snakemake(tmp_path, config)
    assert proc.returncode != 0 and not (tmp_path / "data").exists() and not (tmp_path / "results").exists()
    lines = [line for line in proc.stderr.splitlines() if line.startswith("config error: ")]
    assert len(lines) == 1 and lines[0].startswith("config error: train.device is cuda:99 but this machine has ")
    assert "Traceback" not in proc.stderr


def test_only_the_configured_splits_files_are_required_and_paths_are_quoted(tmp_path, texture_video) -> None:
    """Dry run: split 1's files only (before: MissingInputException for trainlist02.txt); the root, with quotes
    and a command substitution in its name, comes back whole from the ingest command line."""
    ucf_tree(tmp_path, texture_video, splits=(1,))
    root = tmp_path / "Bob's \"videos\" $(touch pwned); x"
    (tmp_path / "data" / "UCF-101").rename(root)
    config = {**base(), "datasets": {"mine": ucf(str(root))}}
    proc = snakemake(tmp_path, config, f"{data_dir(config, 'mine')}/shards.csv", "-n", "-p")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert [rule for rule, _, _ in jobs(proc.stdout)][:1] == ["ingest"]
    (command,) = [c for rule, c in shell_commands(proc.stdout) if rule == "ingest"]
    words = shlex.split(command)
    assert words[words.index("--root") + 1] == str(root) and not (tmp_path / "pwned").exists()
