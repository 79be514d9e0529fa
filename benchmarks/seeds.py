"""Spread of every table cell over training seeds: the default run's models for several seeds.

Runs the workflow once per seed (the top-level `seed`: sampling, augmentation, initialisation,
batch order; the embedded data keep their own generator seed, so every run sees the same videos),
one seed after another in one scratch folder: no data or flow rule takes the seed, so later seeds
re-use the first one's videos, flow and shards and re-run only training, evaluation and tables.
After each run it reads the cells, then gives the mean and standard deviation over the seeds of every
measured accuracy in every final table (intervals, quoted paper columns and counts left out).
Prints the cells and writes them as JSON (and Markdown beside it).

    python benchmarks/seeds.py [--config config.yaml] [--seeds 0 1 2] [--cores 2] [--out benchmarks/out/seeds.json]
    python benchmarks/seeds.py --smoke   # a tiny dataset, stage 1 only, two seeds (what the test suite runs)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from twostream.workflow import snakemake_command  # noqa: E402

TABLES = ("two_stream", "cmmp_table1", "cmmp_table2", "cma_table1", "cma_table2", "fusion_baselines")
SKIP = ("_lo", "_hi", "paper", "videos", "params", "(paper")

SMOKE = {
    "seed": 0,
    "datasets": {"tiny": {"kind": "synthetic", "splits": [1], "size": [32, 32], "crop": 28, "hflip": False,
                          "synthetic": {"colours": 3, "directions": 2, "groups": 3, "clips_per_group": 2,
                                        "val_clips": 0, "frames": 8, "size": [32, 32], "seed": 0}}},
    "flow": {"backend": "opencv-cpu", "bound": 20, "chunk_size": 36},
    "model": {"depth": 10, "pretrained": "none"},
    "train": {"segments": 2, "length": 5, "batch_size": 6, "device": "cpu",
              "rgb": {"lr": 0.01, "epochs": 1}, "flow": {"lr": 0.01, "epochs": 1}},
    "eval": {"test_segments": 2, "crops": 1, "batch_size": 6},
}


def run_seed(config: dict, seed: int, work: Path, cores: int) -> tuple[float, Path]:
    """Run the workflow for one seed in ``work``; returns its wall time in seconds and its run folder.

    The run folder (``results/<datasets>-<key>``) is keyed by the seed, so it is the one folder whose summary
    this run wrote.
    """
    work.mkdir(parents=True, exist_ok=True)
    before = {p: p.stat().st_mtime_ns for p in work.glob("results/*/summary.md")}
    path = work / f"config.seed{seed}.yaml"
    path.write_text(yaml.safe_dump({**config, "seed": seed}))
    start = time.time()
    cmd, env = snakemake_command(work, configfile=path, cores=cores)
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**env, "PYTHONPATH": str(REPO / "src")})
    if proc.returncode:
        raise SystemExit(f"seed {seed}: snakemake failed in {work}:\n{proc.stderr[-3000:]}")
    seconds = time.time() - start
    written = [p.parent for p in work.glob("results/*/summary.md") if before.get(p) != p.stat().st_mtime_ns]
    if len(written) != 1:
        raise SystemExit(f"seed {seed}: expected one run folder with a new summary.md in {work}/results, found {written}")
    return seconds, written[0]


def cells(results: Path) -> dict[str, float]:
    """``table / row / column`` -> value of every measured accuracy cell of a run's final tables."""
    out = {}
    for csv in sorted(results.rglob("*.csv")):
        if csv.stem not in TABLES:
            continue
        df = pd.read_csv(csv)
        keys = [c for c in df.columns if not pd.api.types.is_numeric_dtype(df[c]) or c in ("split", "iteration")]
        numeric = [c for c in df.columns if c not in keys and not any(s in c for s in SKIP)]
        for _, row in df.iterrows():
            if "Source" in df.columns and row["Source"] != "measured":
                continue
            name = " ".join(str(row[k]) for k in keys if k != "Source")
            for c in numeric:
                if pd.notna(row[c]):
                    out[f"{csv.relative_to(results).with_suffix('')} / {name} / {c}"] = float(row[c])
    return out


def spread(runs: list[dict[str, float]]) -> list[dict]:
    """Mean and (sample) standard deviation over seeds of the cells every run has."""
    common = [k for k in runs[0] if all(k in r for r in runs)]
    return [{"cell": k, "mean": float(np.mean(v)), "std": float(np.std(v, ddof=1)), "values": v}
            for k in common for v in [[r[k] for r in runs]]]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default=str(REPO / "config.yaml"))
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--cores", type=int, default=2)
    p.add_argument("--work", help="scratch folder (default: a temporary one)")
    p.add_argument("--out", default=str(REPO / "benchmarks/out/seeds.json"))
    p.add_argument("--smoke", action="store_true", help="tiny dataset, stage 1 only, seeds 0 and 1")
    args = p.parse_args()
    config = SMOKE if args.smoke else yaml.safe_load(Path(args.config).read_text())
    seeds = [0, 1] if args.smoke else args.seeds
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.work or tmp)
        runs, seconds = [], []
        for seed in seeds:
            took, run = run_seed(config, seed, work, args.cores)  # the first seed's data are re-used
            seconds.append(took)
            runs.append(cells(run))
            print(f"seed {seed}: {len(runs[-1])} cells, {seconds[-1]:.0f} s", flush=True)
    rows = spread(runs)
    report = {"seeds": seeds, "smoke": args.smoke, "config": args.config if not args.smoke else "smoke",
              "seconds": seconds, "cells": rows}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1))
    table = pd.DataFrame([{"cell": r["cell"], "mean": r["mean"], "std": r["std"],
                           "values": " ".join(f"{v:.2f}" for v in r["values"])} for r in rows])
    out.with_suffix(".md").write_text(f"# Spread over seeds {seeds}\n\n{table.to_markdown(index=False, floatfmt='.2f')}\n")
    print(table.to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
