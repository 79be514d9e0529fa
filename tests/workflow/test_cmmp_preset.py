"""The CMMP real-data preset dry-runs against a fake UCF-101 / HMDB-51 root with the official split files."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from smk import REPO, job_counts, shell_commands, twostream_call

from twostream import kinds, paths
from twostream.config import load
from twostream.workflow import snakemake_command

PRESET = REPO / "workflow/presets/cmmp_ucf101_hmdb51.yaml"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def work(repo: Path, shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """A working folder and the ``--config`` items that point the preset at fake dataset roots.

    The roots hold the shared real clips only (every other listed video is missing: the preset is copied with
    ``min_present: 0``); the split folders are copies of the official split files.
    """
    tmp = tmp_path_factory.mktemp("preset")
    preset = yaml.safe_load(PRESET.read_text())
    for d in preset["datasets"].values():
        d["min_present"] = 0
    for section in ("train", "cmmp"):
        preset[section]["batch_size"] = 1  # one training video per split makes a batch
    (tmp / "preset.yaml").write_text(yaml.safe_dump(preset))
    roots = {}
    for kind in ("ucf101", "hmdb51"):
        shutil.copytree(shared_data / "clips" / kind, tmp / kind / "videos")
        shutil.copytree(shared_data / "splits" / kind, tmp / kind / "splits")
        roots[kind] = f"{{root: {tmp / kind / 'videos'}, splits_dir: {tmp / kind / 'splits'}}}"
    # A training video in every split (the real clips are all test videos of some split): copies of a real clip.
    ucf = tmp / "ucf101/videos/ApplyEyeMakeup"
    shutil.copy(ucf / "v_ApplyEyeMakeup_g01_c01.avi", ucf / "v_ApplyEyeMakeup_g08_c01.avi")  # train in splits 1, 3
    drink = tmp / "hmdb51/videos/drink"
    clip = next(drink.glob("*.mp4"))
    for k in (1, 2, 3):
        lines = (tmp / f"hmdb51/splits/drink_test_split{k}.txt").read_text().split("\n")
        first = next(line.split()[0] for line in lines if line.split()[1:] == ["1"])
        shutil.copy(clip, drink / f"{Path(first).stem}.mp4")
    return tmp / "work", [f"datasets={{ucf101: {roots['ucf101']}, hmdb51: {roots['hmdb51']}}}"]


def config(work: tuple[Path, list[str]], *items: str) -> dict:
    """The preset as run (min_present 0, batch 1) with the fake roots (and ``items``), as the workflow reads it (for
    its output paths)."""
    return load(work[0].parent / "preset.yaml", [*work[1], *items])


def snakemake(work: tuple[Path, list[str]], *args: str, config: tuple[str, ...] = ()) -> str:
    """Run the preset with ``args`` (targets, flags) and extra ``--config`` items (last: --config takes every value
    after it). --replace-workflow-config: the preset is complete (needed where a --configfile merges into config.yaml)."""
    work[0].mkdir(exist_ok=True)
    cmd, env = snakemake_command(work[0], *args, "--replace-workflow-config", "--configfile",
                                 str(work[0].parent / "preset.yaml"), "--config",
                                 *work[1], *config, cores=1)
    out = subprocess.run(cmd, cwd=work[0], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout + out.stderr


# Per dataset: 3 splits x 2 streams; CMMP: 6 variants on split 1 and CMMP on splits 2 and 3.
AFTER_INGEST = {"index": 2, "train_stream": 12, "evaluate_stream": 12, "two_stream_table": 2, "cmmp_train": 16,
                "evaluate_cmmp": 16, "cmmp_table1": 2, "cmmp_table2": 1, "training_curves": 2, "plan": 1,
                "summary": 1, "all": 1}


def test_dry_run_before_ingest(work):
    assert job_counts(snakemake(work, "-n")) == {"ingest": 2, **AFTER_INGEST}


def test_dry_run_after_ingest_expands_the_flow_chunks(work):
    # Ingest for real; no ImageNet weights needed for that (nor available offline).
    snakemake(work, *(paths.manifest(config(work), d) for d in ("ucf101", "hmdb51")), config=("model={pretrained: none}",))
    out = snakemake(work, "-n", "-p")
    assert job_counts(out) == {"extract": 2, **AFTER_INGEST}
    calls = {rule: [] for rule, _ in shell_commands(out)}
    for rule, command in shell_commands(out):
        calls[rule].append(twostream_call(command))
    assert any(f["--index"] == paths.index(config(work), "hmdb51") and f["--split"] == "3" and s["variant"] == "cmmp"
               for _, f, s in calls["cmmp_train"])
    paper = {"steps": 13500, "milestones": [4500, 9000]}  # CMMP paper, both stages
    assert all(s["schedule"] == {**s["schedule"], "lr": 0.0001, **paper} for _, _, s in calls["cmmp_train"])
    assert all(s["schedule"] == {**s["schedule"], "lr": 0.001, **paper} for _, _, s in calls["train_stream"])
    assert all((s["test_segments"], s["crops"]) == (25, 10) for _, _, s in calls["evaluate_stream"])


def test_ucf101_only_from_the_preset(work):
    """A user without HMDB-51 switches it off on the command line (its placeholder paths are then not checked)."""
    ucf101 = work[1][0].split("hmdb51:")[0].rstrip(", ") + ", hmdb51: {enabled: false}}"
    only = (work[0], [ucf101])
    out = snakemake(only, "-n")
    counts = job_counts(out)
    assert counts["train_stream"] == 6 and counts["cmmp_train"] == 8 and counts["two_stream_table"] == 1
    assert "/hmdb51/" not in out  # no job of HMDB-51's
    assert Path(kinds.run_dir(config(only))).name.startswith("ucf101-")  # results/ucf101-<key>
