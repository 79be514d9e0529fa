"""Fault matrix with real processes on an even tinier workflow (one synthetic dataset, two-stream table).

- kill -9 at seeded random moments of every stage (ingest, extract, index, training, evaluation, the
  table), and of Snakemake with all its jobs: each re-run (Snakemake's retry of a killed job, a new
  run after a killed Snakemake) completes and the final tables equal an uninterrupted run's;
- two Snakemake runs on one folder at once: the second is refused by the lock, nothing is corrupted;
- a flipped byte inside a shard's frame data: the checksum finds it at index time, the index job
  names it and fails, and the re-run rebuilds the shard (identical to the original).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import threading
import time
from pathlib import Path

import h5py
import pytest
import yaml
from smk import TINY, data_dir, prepared, run_dir

from twostream import paths
from twostream.data.shards import video_id_of
from twostream.workflow import snakemake_command

pytestmark = pytest.mark.slow

SEED = 11
# kill -9 budget per command of `python -m twostream <command>` (the rule's process), plus Snakemake itself
KILLS = {"ingest": 3, "extract": 4, "index": 3, "train": 3, "evaluate": 3, "table": 3}
SNAKEMAKE_KILLS = 2
RETRIES = 4  # a killed job is re-run by Snakemake itself (as after a pre-emption); a killed Snakemake by a new run


def tinier() -> dict:
    """tiny.yaml cut down: 12 videos of 24x24 in 3 chunks, the streams only (no CMMP, CMA or conv fusion)."""
    config = yaml.safe_load(TINY.read_text())
    for section in ("cmmp", "cma", "conv_fusion"):
        config.pop(section)
    tiny = config["datasets"]["tiny"]
    tiny.update(size=[24, 24], crop=20)
    tiny["synthetic"].update(colours=2, directions=2, clips_per_group=1, size=[24, 24])
    config["flow"]["chunk_size"] = 4
    config["train"]["batch_size"] = 4
    config["eval"]["batch_size"] = 4
    return config


RUN, DATA = run_dir(tinier()), data_dir(tinier(), "tiny")  # twostream.paths
SHARDS = paths.shards_dir(prepared(tinier()), "tiny")
TABLES = [f"{RUN}/tiny/two_stream.csv", f"{RUN}/tiny/two_stream.md", f"{DATA}/shards.csv", f"{DATA}/failures.csv"]


def start(work: Path, *args: str) -> subprocess.Popen:
    """Snakemake (its own process group, so that all of it can be killed at once) on the tinier config."""
    path = work / "config.run.yaml"
    path.write_text(yaml.safe_dump(tinier()))
    cmd, env = snakemake_command(work, *args, configfile=path)
    return subprocess.Popen(cmd, cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)


def jobs_in(work: Path) -> dict[int, str]:
    """pid -> command of the `python -m twostream <command>` processes running in ``work``."""
    found = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            argv = Path(entry.path, "cmdline").read_bytes().split(b"\0")
            if b"twostream" in argv[:3] and os.readlink(f"{entry.path}/cwd") == str(work):
                found[int(entry.name)] = argv[argv.index(b"twostream") + 1].decode()
        except (OSError, IndexError, ValueError):
            continue
    return found


class Killer(threading.Thread):
    """Watches the jobs in ``work``; kills each new job of a command with budget left, at a seeded moment.

    The moment is drawn uniformly over the job's lifetime in the uninterrupted run (``durations``).
    Without a budget (``durations`` None), it only records how long each command's jobs live.
    """

    def __init__(self, work: Path, rng: random.Random, budget: dict[str, int], durations: dict[str, float] | None):
        super().__init__(daemon=True)
        self.work, self.rng, self.budget, self.durations = work, rng, dict(budget), durations
        self.seen: dict[int, tuple[str, float, float | None]] = {}  # pid -> (command, start, kill at)
        self.lived: dict[str, float] = {}
        self.killed: list[str] = []
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            now = time.monotonic()
            running = jobs_in(self.work)
            for pid, command in running.items():
                if pid not in self.seen:
                    at = None
                    if self.durations is not None and self.budget.get(command, 0) > 0:
                        self.budget[command] -= 1
                        at = now + self.rng.uniform(0.05, 0.8) * self.durations.get(command, 1.0)
                    self.seen[pid] = (command, now, at)
                command, began, at = self.seen[pid]
                self.lived[command] = max(self.lived.get(command, 0.0), now - began)
                if at is not None and now >= at:
                    try:
                        os.kill(pid, signal.SIGKILL)
                        self.killed.append(command)
                    except ProcessLookupError:
                        pass
                    self.seen[pid] = (command, began, None)
            for pid, (command, began, at) in list(self.seen.items()):
                if at is not None and pid not in running:  # ended before its moment: the budget comes back
                    self.budget[command] += 1
                    self.seen[pid] = (command, began, None)
            time.sleep(0.01)


def same(work: Path, ref: Path, name: str) -> bool:
    """Whether a table is the same in two working folders (the manifest's video paths name the folder)."""
    return (work / name).read_text().replace(str(work), "<work>") == (ref / name).read_text().replace(str(ref), "<work>")


def complete(work: Path, *args: str) -> str:
    proc = start(work, *args)
    out = proc.communicate(timeout=600)[0]
    assert proc.returncode == 0, out[-4000:]
    return out


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[Path, dict[str, float]]:
    """An uninterrupted run, and how long each command's jobs lived in it."""
    work = tmp_path_factory.mktemp("reference")
    watcher = Killer(work, random.Random(0), {}, None)
    watcher.start()
    complete(work)
    watcher.done.set()
    watcher.join()
    return work, watcher.lived


def test_kill9_at_seeded_random_moments_every_rerun_completes_with_equal_tables(reference, tmp_path) -> None:
    ref, durations = reference
    rng = random.Random(SEED)
    killer = Killer(tmp_path, rng, KILLS, durations)
    killer.start()
    snakemake_kills, runs = 0, 0
    try:
        for runs in range(1, 10):
            proc = start(tmp_path, "--retries", str(RETRIES))
            if snakemake_kills < SNAKEMAKE_KILLS:  # all of Snakemake and its jobs at once
                try:
                    proc.wait(timeout=rng.uniform(2.0, 10.0))
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    snakemake_kills += 1
            out = proc.communicate(timeout=600)[0]
            if proc.returncode == 0:
                break
            if "cannot be locked" in out:  # what a user does after a crash: Snakemake says so
                assert start(tmp_path, "--unlock").wait(timeout=120) == 0
    finally:
        killer.done.set()
        killer.join()
    assert len(killer.killed) + snakemake_kills >= 20, (killer.killed, snakemake_kills, killer.budget)
    assert set(killer.killed) == set(KILLS)
    for name in TABLES:
        assert same(tmp_path, ref, name), name
    left = [p for d in ("results", "shards", "models") for p in (tmp_path / d).rglob(".*.tmp*")]
    assert not left, left
    print(f"{len(killer.killed)} job kills {sorted(killer.killed)}, {snakemake_kills} Snakemake kills, {runs} runs")


def test_a_second_run_on_the_same_folder_is_refused_by_the_lock(reference) -> None:
    work, _ = reference
    before = {name: (work / name).read_text() for name in TABLES}
    first = start(work, "--forcerun", "evaluate_stream")
    deadline = time.monotonic() + 120
    while not jobs_in(work) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert jobs_in(work), "the first run started no job"
    second = start(work, "--forcerun", "evaluate_stream")
    out = second.communicate(timeout=120)[0]
    assert second.returncode != 0 and "cannot be locked" in out, out[-3000:]
    assert first.communicate(timeout=600)[0] and first.returncode == 0
    assert {name: (work / name).read_text() for name in TABLES} == before


def test_a_flipped_byte_in_frame_data_is_found_listed_and_rebuilt_by_the_rerun(reference, tmp_path) -> None:
    ref, _ = reference
    chunks = [f"{DATA}/chunks/{i:04d}.csv" for i in range(3)]
    complete(tmp_path, *chunks)
    shard = sorted((tmp_path / SHARDS).glob("*.h5"))[1]
    original = shard.read_bytes()
    with h5py.File(shard) as f:
        info = f["rgb/bytes"].id.get_chunk_info(0)
    data = bytearray(original)
    data[info.byte_offset + info.size // 2] ^= 0x01  # one bit, inside JPEG frame data
    shard.write_bytes(bytes(data))
    proc = start(tmp_path, f"{DATA}/shards.csv", f"{DATA}/failures.csv")
    out = proc.communicate(timeout=600)[0]
    assert proc.returncode != 0, out[-3000:]  # the index job fails, so that no index without the video is kept
    log = (tmp_path / f"logs/index/tiny/{Path(DATA).name}.log").read_text()
    assert f"{video_id_of(shard.name)}: " in log and "checksum" in log and "the next run rebuilds it" in log
    assert "run again to rebuild them" in log
    assert not shard.exists() and not (tmp_path / DATA / "shards.csv").exists()
    complete(tmp_path, f"{DATA}/shards.csv", f"{DATA}/failures.csv")
    assert shard.read_bytes() == original
    for name in (f"{DATA}/shards.csv", f"{DATA}/failures.csv"):
        assert same(tmp_path, ref, name), name
