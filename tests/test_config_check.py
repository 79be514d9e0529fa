"""Config errors the schema cannot express are found before any job runs, one line per problem."""

from __future__ import annotations

import os
import subprocess
import sys
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


def test_a_read_only_working_directory_is_one_line_before_any_job(tmp_path, monkeypatch) -> None:
    """No output folder exists yet: the folder they would be made in (the working directory) is checked."""
    work = tmp_path / "work"
    work.mkdir()
    if os.geteuid() == 0:
        proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(work)], capture_output=True,
                              text=True)
        if proc.returncode != 0:
            pytest.skip(f"root but cannot mount a read-only tmpfs: {proc.stderr.strip()}")
    else:
        work.chmod(0o555)
    monkeypatch.chdir(work)
    try:
        with pytest.raises(ConfigError) as e:
            check_config(config(tmp_path, mine=folder(str(tmp_path))))
    finally:
        monkeypatch.chdir(tmp_path)
        if os.geteuid() == 0:
            subprocess.run(["umount", "-l", str(work)], check=False)
        else:
            work.chmod(0o755)
    assert str(e.value).splitlines() == [f"folder {work} is not writable (read-only or no permission)"]


@pytest.mark.parametrize(("devices", "gpus", "lines"), [
    ({"flow": "cuda"}, 0, ["flow.device is cuda but this machine has no NVIDIA GPU: set flow.device to auto or cpu"]),
    ({"train": "cuda:1"}, 1, ["train.device is cuda:1 but this machine has 1 GPU (cuda:0): set train.device to auto "
                              "or cpu"]),
    ({"flow": "cuda:2", "train": "cuda:3"}, 3, [
        "train.device is cuda:3 but this machine has 3 GPUs (cuda:0..cuda:2): set train.device to auto or cpu"]),
    ({"flow": "auto", "train": "cpu"}, 0, []),
], ids=["cuda-none", "cuda1-one", "cuda3-three", "auto-cpu"])
def test_a_configured_gpu_that_is_not_there_is_one_line(tmp_path, monkeypatch, devices, gpus, lines) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    c = config(tmp_path)
    for section, device in devices.items():
        c[section]["device"] = device
    if not lines:
        check_config(c, gpus=gpus)
        return
    with pytest.raises(ConfigError) as e:
        check_config(c, gpus=gpus)
    assert str(e.value).splitlines() == lines
    check_config(c)  # jobs that run elsewhere (a cluster): not checked here


def test_snakemake_in_a_read_only_working_directory_stops_with_one_line(tmp_path) -> None:
    """Snakemake's own state folder (.snakemake) cannot be made there either: the config check speaks first."""
    work = tmp_path / "work"
    work.mkdir()
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config(tmp_path), sort_keys=False))
    if os.geteuid() == 0:
        proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(work)], capture_output=True,
                              text=True)
        if proc.returncode != 0:
            pytest.skip(f"root but cannot mount a read-only tmpfs: {proc.stderr.strip()}")
    else:
        work.chmod(0o555)
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    try:
        proc = subprocess.run(["snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(work),
                               "--configfile", str(tmp_path / "c.yaml"), "--cores", "1"],
                              cwd=REPO, env=env, capture_output=True, text=True)
    finally:
        if os.geteuid() == 0:
            subprocess.run(["umount", "-l", str(work)], check=False)
        else:
            work.chmod(0o755)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert [line for line in proc.stderr.splitlines() if line.startswith("config error: ")] == [
        f"config error: folder {work} is not writable (read-only or no permission)"]


def test_a_plateau_rule_that_cannot_act_is_named(tmp_path) -> None:
    """Patience p cuts after epoch p + 1 at the earliest: within p + 1 epochs or fewer the rule is a no-op."""
    base = config(tmp_path)
    base["train"]["rgb"] = {"lr": 0.01, "epochs": 2, "plateau_patience": 1}
    base["cma"]["schedule"] = {"lr": 0.01, "epochs": 3, "plateau_patience": 2}
    base["conv_fusion"]["schedule"] = {"lr": 0.01, "steps": 10, "plateau_patience": 5}  # in steps: not known here
    with pytest.raises(ConfigError) as e:
        check_config(base)
    assert str(e.value).splitlines() == [
        "train.rgb.plateau_patience 1 cannot lower the learning rate within 2 epochs (the first cut can follow "
        "epoch 2): lower it, or train longer",
        "cma.schedule.plateau_patience 2 cannot lower the learning rate within 3 epochs (the first cut can follow "
        "epoch 3): lower it, or train longer",
    ]
    base["train"]["rgb"]["epochs"] = 3
    base["cma"]["schedule"]["plateau_patience"] = 1
    check_config(base)


@pytest.mark.parametrize("path", ["config.yaml", *sorted(p.name for p in (REPO / "workflow/presets").glob("*.yaml"))])
def test_the_shipped_schedules_can_act(path) -> None:
    """The embedded default and every preset: each plateau rule can lower the learning rate before its run ends."""
    from twostream.config_check import schedule_problems

    shipped = yaml.safe_load((REPO / (path if path == "config.yaml" else f"workflow/presets/{path}")).read_text())
    assert schedule_problems({**yaml.safe_load((REPO / "config.yaml").read_text()), **shipped}) == []


def test_rawframes_and_mmaction2_keys_are_checked_before_any_job(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "raw").mkdir()
    (tmp_path / "train.txt").write_text("a 3 0\n")
    datasets = {
        "raw": {"kind": "folder", "source": "rawframes", "root": "raw", "splits": [1], "crop": 56,
                "rawframes": {"encoding": "denseflow", "bound": 20, "filename_tmpl": {"rgb": "img.jpg",
                                                                                      "flow": "{}_{:05d}.jpg"}}},
        "lists": {"kind": "mmaction2", "root": "raw", "lists": [["train.txt", "val.txt"]], "classes": "names.txt",
                  "splits": [1, 2], "size": [64, 80], "crop": 56},
        "stray": folder("raw", classes="train.txt"),
    }
    with pytest.raises(ConfigError) as e:
        check_config(config(tmp_path, **datasets))
    assert str(e.value).splitlines() == [
        "dataset 'raw': file-name template 'img.jpg' needs one number field (datasets.raw.rawframes.filename_tmpl.rgb)",
        "dataset 'lists': splits [2] do not exist, a mmaction2 dataset has 1 (datasets.lists.lists)",
        f"dataset 'lists': file not found: {tmp_path / 'val.txt'} (datasets.lists.lists)",
        f"dataset 'lists': file not found: {tmp_path / 'names.txt'} (datasets.lists.classes)",
        "dataset 'stray': a classes file is only read by the mmaction2 kind (datasets.stray.classes)",
    ]
