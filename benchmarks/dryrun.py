"""Time `snakemake -n` for the whole workflow on a UCF-101-shaped dataset of 13,320 videos.

Builds, in a scratch folder, UCF-101-style split files for N videos over 101 classes and the
manifest that ingest would write for them (ingest itself is marked done with --touch, so the
dry-run expands every chunk, training, evaluation and table job), then times the dry-run.
Prints the numbers and writes them as JSON.

    python benchmarks/dryrun.py [--videos 13320] [--chunk-size 64] [--repeat 3] [--out benchmarks/out/dryrun.json]
    python benchmarks/dryrun.py --smoke [--out PATH]     # 202 videos, one dry-run (for the tests)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from twostream import paths  # noqa: E402
from twostream.config import load  # noqa: E402
from twostream.data.ingest import manifest_columns  # noqa: E402
from twostream.files import write_csv  # noqa: E402
from twostream.workflow import snakemake_command  # noqa: E402


def fake_ucf101(root: Path, videos: int) -> Path:
    """UCF-101-style split files (CRLF) for ``videos`` videos in 101 classes; returns the splits folder."""
    splits = root / "splits"
    splits.mkdir(parents=True)
    classes = [f"Class{i:03d}" for i in range(101)]
    (splits / "classInd.txt").write_bytes("".join(f"{i + 1} {c}\r\n" for i, c in enumerate(classes)).encode())
    names = [(i % 101, f"{classes[i % 101]}/v_{classes[i % 101]}_g{(i // 101) % 25 + 1:02d}_c{i // 2525 + 1:02d}.avi")
             for i in range(videos)]
    for k in (1, 2, 3):
        test = [n for n in names if (int(n[1].split("_g")[1][:2]) - 1) // 7 == k - 1]
        held_out = set(test)
        train = [n for n in names if n not in held_out]
        (splits / f"trainlist0{k}.txt").write_bytes("".join(f"{p} {c + 1}\r\n" for c, p in train).encode())
        (splits / f"testlist0{k}.txt").write_bytes("".join(f"{p}\r\n" for _, p in test).encode())
    return splits


def fake_manifest(splits: Path, root: Path) -> "pd.DataFrame":  # noqa: F821
    import pandas as pd

    rows = {}
    for k in (1, 2, 3):
        for line in (splits / f"trainlist0{k}.txt").read_bytes().decode().split("\r\n"):
            if line:
                path = line.split()[0]
                rows.setdefault(path, {})[f"split{k}"] = "train"
        for line in (splits / f"testlist0{k}.txt").read_bytes().decode().split("\r\n"):
            if line:
                rows.setdefault(line, {})[f"split{k}"] = "test"
    records = []
    for path, splits_of in sorted(rows.items()):
        cls = path.split("/")[0]
        records.append({"video_id": Path(path).stem, "path": str(root / path), "label": int(cls[5:]),
                        "class_name": cls, **{f"split{k}": splits_of.get(f"split{k}", "") for k in (1, 2, 3)},
                        "frames": 180, "fps": 25.0, "width": 320, "height": 240})
    return pd.DataFrame(records, columns=manifest_columns(3))


def snakemake(work: Path, config: Path, *args: str) -> subprocess.CompletedProcess:
    cmd, env = snakemake_command(work, *args, configfile=config, cores=16)
    return subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--videos", type=int, default=13320)
    p.add_argument("--chunk-size", type=int, default=64)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--out", default=str(REPO / "benchmarks/out/dryrun.json"))
    p.add_argument("--smoke", action="store_true", help="808 videos (groups 1-8: each split has training videos), one dry-run (for the tests)")
    args = p.parse_args()
    if args.smoke:
        args.videos, args.repeat = 808, 1

    work = Path(tempfile.mkdtemp(prefix="dryrun-"))
    try:
        return measure(work, args)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def measure(work: Path, args: argparse.Namespace) -> int:
    """Build the fake dataset in ``work``, time the dry-runs, print and write the numbers."""
    t_build = time.perf_counter()
    splits = fake_ucf101(work / "ucf101", args.videos)
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["datasets"] = {"ucf101": {"kind": "ucf101", "root": str(work / "ucf101/videos"), "splits_dir": str(splits),
                                     "splits": [1, 2, 3], "size": [256, 340], "crop": 224, "hflip": True}}
    config["flow"]["chunk_size"] = args.chunk_size
    config_path = work / "config.yaml"
    config_path.write_text(yaml.safe_dump(config))
    (work / "ucf101/videos").mkdir()
    manifest = fake_manifest(splits, work / "ucf101/videos")
    ingest = paths.ingest_dir(load(config_path), "ucf101")  # where the workflow keeps its manifest
    write_csv(manifest, work / ingest / "manifest.csv")
    write_csv(manifest.iloc[:0, :0].assign(video=[], stage=[], reason=[]), work / ingest / "ingest_failures.csv")
    touched = snakemake(work, config_path, "--touch", f"{ingest}/manifest.csv", f"{ingest}/ingest_failures.csv")
    if touched.returncode:
        print(touched.stderr[-3000:], file=sys.stderr)
        return 1

    build_seconds = time.perf_counter() - t_build
    seconds, jobs = [], None
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        run = snakemake(work, config_path, "-n", "--quiet", "rules")
        seconds.append(time.perf_counter() - t0)
        if run.returncode:
            print(run.stderr[-3000:], file=sys.stderr)
            return 1
        stats = dict(re.findall(r"^(\w+)\s+(\d+)$", run.stdout + run.stderr, re.M))
        jobs = int(stats.pop("total"))
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    result = {"videos": args.videos, "chunk_size": args.chunk_size, "jobs": jobs,
              "jobs_per_rule": {rule: int(n) for rule, n in stats.items()}, "dry_run_seconds": seconds,
              "best_seconds": min(seconds), "setup_seconds": round(build_seconds, 2),
              "peak_rss_mb": round(peak_mb), "goal_seconds": 10,
              "snakemake": subprocess.run([sys.executable, "-m", "snakemake", "--version"], capture_output=True,
                                          text=True).stdout.strip(), "cpus": os.cpu_count()}
    print(json.dumps(result, indent=2))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
