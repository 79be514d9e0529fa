"""What a configuration will compute and what it costs on this machine, before the run (``twostream plan``).

Per dataset: its videos and their roles in each configured split, the frame pairs the flow stage computes,
the time that takes here, the shards' disk, and the optimiser and evaluation steps of every model the
workflow trains. Counts come from the dataset's manifest where ingest has run, else from its split files
and the videos found on disk (frame counts from a probe of a few of them), or from the generator's settings
for the embedded dataset.

Flow time comes from a calibration, not a table: the extract pipeline itself (decode, flow with the
configured backend and size, quantise, JPEG, write a shard) runs on the first frames of one of the
dataset's own videos in one thread, as an extract job on a CPU has: on one video of ``SMALL`` frame pairs,
on four, and on one of ``PAIRS`` or more (until it takes ``MIN_SECONDS`` longer). The differences give the
seconds per pair and per video, the rest the fixed cost of a job, plus the start of a job's Python
(measured). The run takes ``chunks x fixed + videos x per video + pairs x per pair`` job-seconds, spread over
``--cores`` jobs at once (on GPUs, one job per GPU). The machine's load while calibrating is stated: other
work on it slows the calibration as it will slow the run. Shard disk: the calibration shard's
bytes per frame times the frames. Where a GPU is visible, the flow is calibrated on it too.
"""

from __future__ import annotations

import contextlib
import functools
import io
import itertools
import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from twostream import kinds, paths, specs

SMALL, PAIRS = 2, 24  # frame pairs of the two calibration runs (their difference gives the time per pair)
MIN_SECONDS, MAX_PAIRS = 1.0, 768  # the larger run grows (x4) until it takes this much longer than the small one
PROBED = 8  # videos probed for their frame count where the manifest does not exist yet
ROLES = ("train", "test", "val")


@dataclass
class Videos:
    """A dataset's videos as the run will see them."""

    count: int
    frames: int  # frames of all videos (pairs: frames - count)
    roles: dict[int, dict[str, int]]  # split -> role -> videos
    source: str  # where the counts come from
    sample: list[str] = field(default_factory=list)  # paths of a few videos (the calibration's)

    @property
    def pairs(self) -> int:
        return max(self.frames - self.count, 0)


@dataclass
class Flow:
    """A calibration of the extract pipeline on one device."""

    device: str  # what ran it, in words
    per_pair: float  # seconds
    per_video: float  # seconds (opening, writing and verifying a shard)
    fixed: float  # seconds per job (its start and the pipeline's)
    bytes_per_frame: float
    jobs: int  # extract jobs at once on this machine
    video: str  # the video it ran on
    pairs: int  # the frame pairs of its larger run
    load: float  # the machine's load average while it ran

    def seconds(self, videos: int, pairs: int, chunks: int) -> float:
        """Wall seconds of the flow stage: every job's work, ``jobs`` at a time."""
        work = chunks * self.fixed + videos * self.per_video + pairs * self.per_pair
        return work / max(min(self.jobs, chunks), 1)


# --- counting videos ---


def _roles(table: pd.DataFrame, splits: list[int]) -> dict[int, dict[str, int]]:
    return {k: {r: int((table[f"split{k}"] == r).sum()) for r in ROLES} for k in splits}


def _from_manifest(path: Path, splits: list[int]) -> Videos:
    from twostream.data.ingest import read_manifest

    manifest = read_manifest(path)
    sample = manifest["path"].tolist()[:2]
    return Videos(len(manifest), int(manifest["frames"].clip(lower=0).sum()), _roles(manifest, splits),
                  f"manifest {path}", sample)


def _synthetic(config: Mapping[str, Any], d: str) -> Videos:
    s = specs.parse(specs.SyntheticSpec, specs.spec_for(specs.SyntheticSpec, config, {"dataset": d}))
    classes = s.colours * s.directions
    count = classes * (s.groups * s.clips_per_group + s.val_clips)
    roles = {}
    for k in config["datasets"][d]["splits"]:
        test = sum(1 for g in range(1, s.groups + 1) if (g - 1) % 3 == k - 1) * s.clips_per_group * classes
        roles[k] = {"train": classes * s.groups * s.clips_per_group - test, "test": test, "val": classes * s.val_clips}
    return Videos(count, count * s.frames, roles, "the generator's settings (datasets.{d}.synthetic)".format(d=d))


def _from_split_files(config: Mapping[str, Any], d: str) -> Videos:
    """Videos the split files list and that are on disk (the manifest to be), frames from a probe of a few."""
    from twostream.data.ingest import read_catalog
    from twostream.data.ingest.common import Failures, locate
    from twostream.data.ingest.subset import Subset, choose, keep_classes
    from twostream.data.video import VideoError, probe

    ds = config["datasets"][d]
    with contextlib.redirect_stderr(io.StringIO()):  # missing videos: ingest's business, not the plan's
        catalog = read_catalog(ds["kind"], Path(os.path.abspath(ds["root"])), Failures(),
                               splits_dir=ds.get("splits_dir"), annotations=ds.get("annotations"),
                               seed=config["seed"], test_fraction=ds["test_fraction"], splits=ds["splits"])
        subset = Subset(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in ds.get("subset", {}).items()})
        if "subset" in ds:
            keep_classes(catalog, subset)
        located = locate(catalog)
        if "subset" in ds:
            located = choose(located, subset, ds["splits"])
    listed = len({listing.video_id for listing in catalog.listings.values()})
    table = pd.DataFrame([{f"split{k + 1}": role for k, role in enumerate(listing.splits)} for listing, _ in located],
                         columns=[f"split{k}" for k in range(1, catalog.n_splits + 1)])
    step = max(len(located) // PROBED, 1)
    frames = []
    for _, path in located[::step][:PROBED]:
        try:
            frames.append(probe(path).frames)
        except VideoError:
            continue
    mean = sum(frames) / len(frames) if frames else 0
    return Videos(len(located), round(mean * len(located)), _roles(table, ds["splits"]),
                  f"the split files: {len(located)} of {listed} listed videos found; frames: mean of {len(frames)} "
                  f"probed", [str(p) for _, p in located[:2]])


def _from_rawframes(config: Mapping[str, Any], d: str) -> Videos:
    """A rawframes dataset's video folders as its ingest will find them (frames counted from the file names)."""
    from twostream.data.ingest.subset import Subset
    from twostream.data.rawframes.catalog import rawframes_manifest

    ds = config["datasets"][d]
    naming = ds["rawframes"]
    subset = Subset(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in ds.get("subset", {}).items()})
    with contextlib.redirect_stderr(io.StringIO()):
        manifest, _, _ = rawframes_manifest(
            ds["kind"], os.path.abspath(ds["root"]), rgb=naming.get("filename_tmpl", {}).get("rgb"),
            flow=naming.get("filename_tmpl", {}).get("flow"), start=naming.get("start_index"), seed=config["seed"],
            test_fraction=ds["test_fraction"], splits=ds["splits"], subset=subset if "subset" in ds else None,
            splits_dir=ds.get("splits_dir"), annotations=ds.get("annotations"), lists=ds.get("lists"),
            classes=ds.get("classes"))
    return Videos(len(manifest), int(manifest["frames"].sum()), _roles(manifest, ds["splits"]),
                  f"the rawframes folders under {ds['root']}")


def videos(config: Mapping[str, Any], d: str, directory: Path) -> Videos:
    """A dataset's videos: from its manifest where ingest has run (in ``directory``), else as the run will find them."""
    made = directory / paths.manifest(config, d)
    if made.is_file():
        return _from_manifest(made, config["datasets"][d]["splits"])
    if config["datasets"][d]["kind"] == "synthetic":
        return _synthetic(config, d)
    if paths.rawframes(config, d):
        return _from_rawframes(config, d)
    return _from_split_files(config, d)


# --- calibrating the flow stage ---


def _first_frames(path: str, size: tuple[int, int], count: int) -> Any:
    """``count`` frames of a video, as ``decoding.decode`` gives a whole one (a calibration decoder): its first
    ones, played back and forth where it has fewer (so that the motion stays that of the video)."""
    from twostream.data.decoding import _window
    from twostream.data.video import VideoError, iter_frames

    read = list(itertools.islice(iter_frames(path, size), count))
    if not read:
        raise VideoError("no decodable frame")
    cycle = read + read[-2:0:-1] if len(read) > 1 else read
    return _window([(i, cycle[i % len(cycle)][1]) for i in range(count)])


def _extract_seconds(runs: list[int], video: str, spec: specs.ExtractSpec, backend: Any, threads: int,
                     folder: Path) -> tuple[float, float]:
    """(seconds, shard bytes per frame) of the extract pipeline on ``len(runs)`` videos, the first ``pairs + 1``
    frames of ``video`` each."""
    from twostream.data.extract import extract_chunk

    rows = pd.DataFrame([{"video_id": f"calibration{i}", "path": video, "label": 0, "class_name": "c", "fps": 25.0,
                          "frames": pairs + 1} for i, pairs in enumerate(runs)])
    out = folder / f"shards{len(list(folder.glob('shards*')))}"
    out.mkdir(parents=True)
    decoder = functools.partial(_first_frames, count=max(runs) + 1)
    if len(set(runs)) > 1:
        raise ValueError("one frame count per calibration run")
    start = time.perf_counter()
    with contextlib.redirect_stderr(io.StringIO()):
        done = extract_chunk(rows, backend, out, size=spec.size, bound=spec.bound, quality=spec.jpeg_quality, length=1,
                             workers=threads, encoders=threads, pairs_per_batch=spec.batch_pairs, decoder=decoder)
    seconds = time.perf_counter() - start
    if (done["status"] != "ok").any():
        raise RuntimeError(f"calibration on {video} failed: {done['reason'].iloc[0]}")
    return seconds, float(done["bytes"].sum()) / int(done["frames"].sum())


@functools.cache
def _job_start() -> float:
    """Seconds a rule's ``python -m twostream extract`` takes to start (interpreter and imports)."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import twostream.cli.extract"], check=True,
                   env=dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1])))
    return time.perf_counter() - start


def calibrate(video: str, spec: specs.ExtractSpec, device: str, jobs: int, threads: int) -> Flow:
    """The extract pipeline's cost on this machine, measured on the first frames of ``video``."""
    import torch

    from twostream.flow import get_backend

    torch.set_num_threads(threads)
    backend = get_backend(spec.backend, device, spec.variant)
    pairs = PAIRS
    with tempfile.TemporaryDirectory(prefix="twostream-plan-") as tmp:
        folder = Path(tmp)
        _extract_seconds([SMALL], video, spec, backend, threads, folder)  # builds and loads the kernels
        one, _ = _extract_seconds([SMALL], video, spec, backend, threads, folder)
        four, _ = _extract_seconds([SMALL] * 4, video, spec, backend, threads, folder)
        while True:
            big, per_frame = _extract_seconds([pairs], video, spec, backend, threads, folder)
            if big - one >= MIN_SECONDS or pairs >= MAX_PAIRS:
                break
            pairs *= 4
    per_pair = max(big - one, 1e-3) / (pairs - SMALL)
    per_video = max((four - one) / 3 - SMALL * per_pair, 0.0)
    fixed = max(one - per_video - SMALL * per_pair, 0.0) + _job_start()
    where = getattr(backend, "device", None)
    name = torch.cuda.get_device_name(where) if where is not None and where.type == "cuda" else "cpu"
    words = f"{backend.name} on {name}, {threads} thread{'s' * (threads > 1)} per job"
    return Flow(words, per_pair, per_video, fixed, per_frame, jobs, video, pairs, os.getloadavg()[0])


# --- training and evaluation steps ---


def _spec(cls: type, config: Mapping[str, Any], wildcards: dict[str, Any]) -> Any:
    return specs.parse(cls, specs.spec_for(cls, config, wildcards))


def training(config: Mapping[str, Any], d: str, roles: dict[int, dict[str, int]]) -> list[tuple[str, int, int, int]]:
    """(model, runs, optimiser steps of each, videos per step) of every kind the config trains for dataset ``d``."""
    from twostream.train.run import schedule

    out = []
    first = kinds.first_split(config, d)
    for modality in ("rgb", "flow"):
        spec = _spec(specs.StreamSpec, config, {"dataset": d, "modality": modality})
        steps = {schedule(spec, roles[k]["train"]).steps for k in roles}
        out += [(f"{modality} stream", len(roles), max(steps), spec.batch_size)]
    if "cmmp" in config:
        runs = kinds.cmmp_runs(config, d)
        spec = _spec(specs.CMMPSpec, config, {"dataset": d, "variant": "cmmp"})
        out += [("CMMP", len(runs), max(schedule(spec, roles[k]["train"]).steps for k, _ in runs), spec.batch_size)]
    if "cma" in config:
        spec = _spec(specs.CMASpec, config, {"dataset": d, "iteration": 1})
        out += [("CMA iteration", config["cma"]["iterations"], schedule(spec, roles[first]["train"]).steps,
                 spec.batch_size)]
    if "conv_fusion" in config:
        spec = _spec(specs.ConvFusionSpec, config, {"dataset": d})
        out += [("conv fusion", 1, schedule(spec, roles[first]["train"]).steps, spec.batch_size)]
    return out


# --- the plan ---


@dataclass
class DatasetPlan:
    name: str
    videos: Videos
    chunks: int
    flow: Flow | None  # None: nothing to calibrate on (no video found, or rawframes: nothing computed)
    gpu: Flow | None  # where a GPU is visible
    training: list[tuple[str, int, int, int]]
    models: int  # models evaluated
    test_videos: int  # of the first split
    clips_per_video: int  # segments x crops


def plan_dataset(config: Mapping[str, Any], d: str, directory: Path, cores: int, calibration: bool = True
                 ) -> DatasetPlan:
    from twostream.gpus import resolve_device
    from twostream.workflow import gpus_visible

    found = videos(config, d, directory)
    chunks = math.ceil(found.count / config["flow"]["chunk_size"])
    flow = gpu = None
    if calibration and not paths.rawframes(config, d):  # rawframes are imported: no flow computed
        extract = _spec(specs.ExtractSpec, config, {"dataset": d})
        sample = found.sample or [_synthetic_sample(config, d, directory)]
        gpus = gpus_visible()
        on_gpu = gpus and resolve_device(extract.device) != "cpu"
        flow = calibrate(sample[0], extract, "cpu", cores, 1) if not on_gpu else None
        if gpus:
            gpu = calibrate(sample[0], extract, extract.device if on_gpu else "cuda", gpus, max(1, cores // gpus))
    trained = training(config, d, found.roles)
    evaluate = _spec(specs.EvaluateSpec, config, {"dataset": d})
    models = sum(runs for _, runs, _, _ in trained)
    first = kinds.first_split(config, d)
    return DatasetPlan(d, found, chunks, flow, gpu, trained, models, found.roles[first]["test"],
                       evaluate.test_segments * evaluate.crops)


def _synthetic_sample(config: Mapping[str, Any], d: str, directory: Path) -> str:
    """One video of the embedded dataset: the generated one where it exists, else one clip rendered now."""
    import numpy as np

    from twostream.data import synthetic

    made = sorted((directory / paths.synthetic_dir(config, d) / "videos").glob("*/*.avi"))
    if made:
        return str(made[0])
    s = _spec(specs.SyntheticSpec, config, {"dataset": d})
    spec = synthetic.Generator(colours=s.colours, directions=s.directions, groups=s.groups,
                               clips_per_group=s.clips_per_group, val_clips=s.val_clips, frames=max(s.frames, PAIRS + 1),
                               height=s.size[0], width=s.size[1], seed=s.seed)
    path = Path(tempfile.mkdtemp(prefix="twostream-plan-")) / "clip.avi"
    synthetic.write_video(path, synthetic.render(spec, 0, np.random.default_rng([s.seed, 0, 1, 1])), spec.fps)
    return str(path)


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    if seconds < 72 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def _bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def lines(p: DatasetPlan, config: Mapping[str, Any], cores: int) -> list[str]:
    """The plan of one dataset as text lines (``twostream plan`` prints them; the run's summary holds them)."""
    ds = config["datasets"][p.name]
    v = p.videos
    imported = paths.rawframes(config, p.name)
    frames = "rawframes (imported, no flow computed)" if imported else "{}x{}".format(*ds["size"])
    subset = f", subset {ds['subset']}" if "subset" in ds else ""
    out = [f"{p.name}: {ds['kind']} at {frames}, splits {' '.join(map(str, ds['splits']))}{subset}"]
    roles = "; ".join(f"split {k}: " + ", ".join(f"{n:,} {r}" for r, n in counts.items() if n or r != "val")
                      for k, counts in v.roles.items())
    out.append(f"  videos       {v.count:,} ({roles}); from {v.source}")
    job = "import" if imported else "extract"
    out.append(f"  frame pairs  {v.pairs:,} in {p.chunks} {job} job{'s' * (p.chunks != 1)}")
    for label, flow in (("flow", p.flow), ("flow on GPU", p.gpu)):
        if flow is None:
            continue
        seconds = flow.seconds(v.count, v.pairs, p.chunks)
        out.append(f"  {label:<12} {_duration(seconds)} ({flow.device}: {1 / flow.per_pair:.1f} pairs/s per job, "
                   f"{min(flow.jobs, max(p.chunks, 1))} job{'s' * (min(flow.jobs, p.chunks) != 1)} at once; "
                   f"calibrated on {flow.pairs} pairs of {Path(flow.video).name} at load {flow.load:.1f})")
    if p.gpu is None and p.flow is not None:
        out.append("  GPU          none visible")
    measured = p.flow or p.gpu
    if measured is not None:
        out.append(f"  shard disk   {_bytes(measured.bytes_per_frame * v.frames)} ({_bytes(measured.bytes_per_frame)} "
                   f"per frame)")
    steps = "; ".join(f"{name}: {runs} x {n:,} steps of {batch}" for name, runs, n, batch in p.training)
    out.append(f"  training     {steps}")
    evaluate = config["eval"]
    out.append(f"  evaluation   {p.models} models x {p.test_videos:,} test videos x {p.clips_per_video} clips "
               f"({evaluate['test_segments']} segments x {evaluate['crops']} crops) in batches of "
               f"{evaluate['batch_size']}")
    return out


def plan(config: Mapping[str, Any], directory: Path, cores: int, calibration: bool = True) -> list[str]:
    """The plan of every dataset of a prepared config, as text lines."""
    out = [f"Plan for {cores} core{'s' * (cores > 1)} (snakemake --cores {cores}); outputs in {directory}:"]
    for d in config["datasets"]:
        out += lines(plan_dataset(config, d, directory, cores, calibration), config, cores)
    out.append(f"tables and summary: {kinds.run_dir(config)}/")
    return out
