"""README's "Your own data" walk-through, command by command, as a new user types it: on a small tree in UCF-101's
layout standing in for /data (the commands that would train run as dry runs)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def section(title: str) -> str:
    text = (REPO / "README.md").read_text()
    start = text.index(f"## {title}\n")
    return text[start:text.index("\n## ", start + 1)]


def blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, re.S)


def commands(block: str) -> list[str]:
    """The commands of a bash block: continuation lines joined, comments dropped."""
    joined = block.replace("\\\n", " ")
    return [line.split("  #")[0].strip() for line in joined.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """/data as the walk-through names it: UCF-101/ (6 classes, 3 groups of one clip, one validation clip each)
    and ucfTrainTestlist/."""
    root = tmp_path_factory.mktemp("data")
    spec = ('{"colours": 3, "directions": 2, "groups": 3, "clips_per_group": 1, "val_clips": 1, "frames": 6,'
            ' "size": [32, 40], "seed": 5}')
    made = subprocess.run([sys.executable, "-m", "twostream", "synthetic", "--spec", spec, "--out", str(root / "ucf")],
                          env=dict(os.environ, PYTHONPATH=str(REPO / "src")), capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    (root / "ucf/videos").rename(root / "UCF-101")
    (root / "ucf/splits").rename(root / "ucfTrainTestlist")
    return root


def run(line: str, work: Path, data: Path) -> subprocess.CompletedProcess:
    """One README command in ``work``: /data/ is the test tree; `twostream` and `snakemake` are this checkout's,
    and a snakemake that would train runs as a dry run."""
    argv = shlex.split(line.replace("/data/", f"{data}/"))
    if argv[0] == "twostream":
        argv = [sys.executable, "-m", "twostream", *argv[1:]]
    elif argv[0] == "snakemake":
        argv = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), *argv[1:]]
        argv += [] if "-n" in argv else ["-n"]
    argv = [str(REPO / a) if a.startswith("workflow/presets/") else a for a in argv]
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"), PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}",
               TORCH_HOME=str(work / "torch"))  # no ImageNet weights fetched
    return subprocess.run(argv, cwd=work, env=env, capture_output=True, text=True)


def test_your_own_data_trial_then_the_full_dataset(data: Path, tmp_path: Path) -> None:
    text = section("Your own data")
    (datasets,) = [b for b in blocks(text, "yaml") if b.startswith("datasets:")]
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["datasets"] = yaml.safe_load(datasets.replace("/data/", f"{data}/"))["datasets"]
    (tmp_path / "my.yaml").write_text(yaml.safe_dump(config))
    trial = commands(blocks(text, "bash")[0])
    assert [c.split()[:2] for c in trial] == [["twostream", "plan"], ["snakemake", "--cores"], ["snakemake", "--cores"]]
    outputs = []
    for line in trial:
        done = run(line, tmp_path, data)
        assert done.returncode == 0, f"{line}\n{done.stderr[-3000:]}"
        outputs.append(done.stdout)
    plan = outputs[0]
    # 5 of 6 classes; split 1: at most 10 per role, here 2 training (groups 2, 3), 1 test, 1 validation video each
    assert "ucf101: ucf101 at 256x340, splits 1, subset" in plan and "20 (split 1: 10 train, 5 test, 5 val)" in plan
    assert re.search(r"flow +\S+ (s|min) \(", plan) and "shard disk" in plan and "rgb stream: 1 x" in plan
    assert "tables and summary: results/ucf101-" in plan
    assert "ingest" in outputs[1] and "train_stream" in outputs[1]
    # The full dataset: the same command without the subset
    del config["datasets"]["ucf101"]["subset"]
    (tmp_path / "my.yaml").write_text(yaml.safe_dump(config))
    done = run(trial[2], tmp_path, data)
    assert done.returncode == 0 and "results/ucf101/full-" in done.stdout, done.stderr[-3000:]


def test_the_papers_presets_cut_to_ucf101(data: Path, tmp_path: Path) -> None:
    presets = [c for b in blocks(section("Your own data"), "bash")[1:] for c in commands(b)]
    assert len(presets) == 2 and all("enabled: false" in c for c in presets)
    for line in presets:  # both in one folder, one after the other
        done = run(line, tmp_path, data)
        assert done.returncode == 0, f"{line}\n{done.stderr[-3000:]}"
        assert not re.search(r"(results|models|shards)/(hmdb51|kinetics400)", done.stdout)  # no job of theirs
        assert re.search(r"results/ucf101-[0-9a-f]{6}/summary.md", done.stdout)
        assert "missing ImageNet weights for ResNet-50" in done.stderr  # named, with the command to fetch them
        assert "twostream weights --depth 50" in done.stderr


def test_rawframes_export_reads_as_the_readme_says_and_imports_back(data: Path, tmp_path: Path) -> None:
    """The rawframes section: its export command, the mmaction2 settings it names (ann_file, start_index,
    filename_tmpl) finding every frame and flow image, and its config block planning and wiring an import."""
    text = section("Rawframes: export for mmaction2, or bring your own")
    for name in ("UCF-101", "ucfTrainTestlist"):
        (tmp_path / name).symlink_to(data / name)
    (export,) = re.findall(r"`(twostream rawframes [^`]+)`", text)
    done = run(export, tmp_path, data)
    assert done.returncode == 0, done.stderr[-3000:]
    rgb_list = re.search(r"ann_file='([^']+)'", text).group(1)
    rgb_tmpl, flow_tmpl = re.findall(r"'((?:img|flow)_[^']+\.jpg)'", text)
    start = int(re.search(r"start_index=(\d+)", text).group(1))
    flow_list = rgb_list.replace("_rawframes.txt", "_rawframes_flow.txt")
    assert re.search(r"\.\.\._rawframes_flow\.txt", text)
    for listed, last_file in ((rgb_list, lambda n: rgb_tmpl.format(n)), (flow_list, lambda n: flow_tmpl.format("y", n))):
        rows = [line.split() for line in (tmp_path / listed).read_text().splitlines()]
        assert rows and all("/" in folder for folder, _, _ in rows)  # Class/video, as mmaction2's own lists
        for folder, total, _ in rows:  # as RawframeDataset reads them: start_index .. start_index + total - 1
            assert (tmp_path / "rawframes" / folder / last_file(start + int(total) - 1)).is_file(), (listed, folder)
            assert not (tmp_path / "rawframes" / folder / last_file(start + int(total))).exists()
    (datasets,) = [b for b in blocks(text, "yaml") if b.startswith("datasets:")]
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["datasets"] = yaml.safe_load(datasets.replace("/data/ucf101/rawframes", str(tmp_path / "rawframes"))
                                        .replace("/data/", f"{data}/"))["datasets"]
    (tmp_path / "my.yaml").write_text(yaml.safe_dump(config))
    folders = len(list((tmp_path / "rawframes").glob("*/*/")))
    planned = run("twostream plan --configfile my.yaml --no-calibration", tmp_path, data)
    assert planned.returncode == 0, planned.stderr[-3000:]
    assert "ucf101: ucf101 at rawframes (imported, no flow computed)" in planned.stdout
    assert re.search(rf"videos +{folders} \(", planned.stdout), planned.stdout
    dry = run("snakemake --cores 2 --configfile my.yaml", tmp_path, data)
    assert dry.returncode == 0, dry.stderr[-3000:]
    assert "ingest_rawframes" in dry.stdout and "rule extract" not in dry.stdout
