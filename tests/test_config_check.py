"""Config errors the schema cannot express are found before any job runs, one line per problem."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from twostream.config_check import ConfigError, check_config
from twostream.workflow import snakemake_command

REPO = Path(__file__).resolve().parents[1]


def config(tmp_path: Path, **datasets: dict) -> dict:
    base = yaml.safe_load((REPO / "tests/workflow/tiny.yaml").read_text())
    base["datasets"] = datasets or base["datasets"]
    return base


def folder(root: str, **extra) -> dict:
    return {"kind": "folder", "root": root, "splits": [1], "size": [64, 80], "crop": 56, **extra}


def test_a_valid_config_passes(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "videos").mkdir()
    check_config(config(tmp_path))
    check_config(config(tmp_path, mine=folder("videos"), abs=folder(str(tmp_path / "videos"))))


def test_every_problem_of_every_dataset_is_one_line_naming_dataset_and_keys(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "videos").mkdir()
    (tmp_path / "kinetics.csv").write_text("label,youtube_id,time_start,time_end,split\n")
    datasets = {
        "big_crop": folder("videos", crop=200),
        "no_root": folder("missing"),
        "ucf": {"kind": "ucf101", "root": "videos", "splits_dir": "lists", "splits": [1], "size": [64, 80],
                "crop": 56},
        "kin": {"kind": "kinetics400", "root": "videos", "annotations": ["kinetics.csv", "gone.csv"],
                "splits": [1, 2], "size": [32, 32], "crop": 28},
    }
    with pytest.raises(ConfigError) as e:
        check_config(config(tmp_path, **datasets))
    lines = str(e.value).splitlines()
    assert lines == [
        "dataset 'big_crop': crop 200 is larger than the frame size [64, 80]"
        " (datasets.big_crop.crop, datasets.big_crop.size)",
        f"dataset 'no_root': root folder not found: {tmp_path / 'missing'} (datasets.no_root.root)",
        f"dataset 'ucf': splits_dir folder not found: {tmp_path / 'lists'} (datasets.ucf.splits_dir)",
        "dataset 'kin': splits [2] do not exist, a kinetics400 dataset has 1 (datasets.kin.splits)",
        f"dataset 'kin': annotation file not found: {tmp_path / 'gone.csv'} (datasets.kin.annotations)",
    ]


def test_snakemake_stops_before_any_job_with_the_lines(tmp_path) -> None:
    bad = config(tmp_path, tiny={**config(tmp_path)["datasets"]["tiny"], "crop": 200, "size": [64, 80]},
                 mine=folder("nowhere"))
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(bad, sort_keys=False))
    cmd, env = snakemake_command(tmp_path, configfile=tmp_path / "c.yaml", cores=1)
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    assert proc.returncode == 1
    errors = [line for line in proc.stderr.splitlines() if line.startswith("config error: ")]
    assert len(errors) == 2 and "dataset 'tiny': crop 200" in errors[0]
    assert f"root folder not found: {tmp_path / 'nowhere'} (datasets.mine.root)" in errors[1]
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "data").exists() and not (tmp_path / "results").exists()  # no job ran


def test_a_read_only_results_or_shards_folder_is_named_before_any_job(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    for folder in ("results", "shards/tiny"):
        (tmp_path / folder).mkdir(parents=True)
    if os.geteuid() == 0:  # root writes through permissions: a read-only mount
        for folder in ("results", "shards/tiny"):
            proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", folder], capture_output=True,
                                  text=True)
            if proc.returncode != 0:
                pytest.skip(f"root but cannot mount a read-only tmpfs: {proc.stderr.strip()}")
    else:
        (tmp_path / "results").chmod(0o555)
        (tmp_path / "shards/tiny").chmod(0o555)
    try:
        with pytest.raises(ConfigError) as e:
            check_config(config(tmp_path))
    finally:
        for folder in ("results", "shards/tiny"):
            if os.geteuid() == 0:
                subprocess.run(["umount", folder], check=False)
            else:
                (tmp_path / folder).chmod(0o755)
    assert str(e.value).splitlines() == [
        f"folder {tmp_path / 'results'} is not writable (read-only or no permission)",
        f"folder {tmp_path / 'shards/tiny'} is not writable (read-only or no permission)",
    ]
