"""Checks after tests/slurm/run.sh: the SLURM run's jobs went through sbatch as the profile asks,
and its outputs equal the local run's.

    python tests/slurm/check.py WORK PROFILE

WORK holds local/ and slurm/ (the two runs' working directories); PROFILE is the profile.yaml the
SLURM run used. Needs the cluster still up (squeue keeps finished jobs for MinJobAge = 1 h).
Exit status 0 when everything holds; every failed check is listed.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import torch
import yte

FAILED: list[str] = []


def check(ok: bool, what: str) -> None:
    print(("ok    " if ok else "FAIL  ") + what)
    if not ok:
        FAILED.append(what)


def minutes(limit: str) -> int:
    """squeue's time limit ([D-]HH:MM:SS or MM:SS) in minutes."""
    days, _, hms = limit.rpartition("-")
    parts = [int(p) for p in hms.split(":")]
    while len(parts) < 3:
        parts.insert(0, 0)
    h, m, s = parts
    return (int(days or 0) * 24 + h) * 60 + m + (s > 0)


def slurm_jobs(work: Path, profile: dict) -> None:
    """Every rule's jobs ran as SLURM jobs, with the profile's GPUs, CPUs, memory and time limit."""
    fields = "JobID:|,State:|,Comment:|,tres-per-job:|,NumCPUs:|,MinMemory:|,TimeLimit:"
    out = subprocess.run(["squeue", "-h", "-t", "all", "-O", fields], capture_output=True, text=True, check=True).stdout
    jobs = []
    for line in out.splitlines():
        jobid, state, comment, tres, cpus, mem, limit = line.split("|")[:7]
        rule = re.match(r"rule_(.+?)(_wildcards_.*)?$", comment).group(1)
        jobs.append(dict(id=jobid, state=state, rule=rule, tres=tres, cpus=int(cpus), mem=mem, limit=limit))
    print(f"{len(jobs)} SLURM jobs:")
    for j in jobs:
        print(f"  {j['id']:>4} {j['state']:<10} {j['rule']:<17} cpus={j['cpus']} mem={j['mem']} gpus={j['tres']} "
              f"time={j['limit']}")

    # As many jobs per rule as the local run wrote logs (one log per job; `all` has none).
    # (logs/<rule>/... , or logs/<rule>.log for a rule with one job and no wildcards)
    local = Counter(p.relative_to(work / "local/logs").parts[0].removesuffix(".log")
                    for p in (work / "local/logs").rglob("*.log"))
    check(Counter(j["rule"] for j in jobs) == local, f"jobs per rule as in the local run: {dict(local)}")
    check(all(j["state"] == "COMPLETED" for j in jobs), "every SLURM job COMPLETED (none failed and retried)")

    threads, resources, default = profile["set-threads"], profile["set-resources"], profile["default-resources"]
    for j in jobs:
        res = {**default, **resources.get(j["rule"], {})}
        gpu = res.get("gpu", 0)
        want_tres = f"gres:gpu:{gpu}" if gpu else "N/A"
        want_cpus = threads.get(j["rule"], 1)
        ok = (j["tres"] == want_tres and j["cpus"] == want_cpus and j["mem"] == f"{res['mem_mb']}M"
              and minutes(j["limit"]) == res["runtime"])
        check(ok, f"job {j['id']} ({j['rule']}): gpus {want_tres}, cpus {want_cpus}, mem {res['mem_mb']}M, "
                  f"{res['runtime']} min")

    # The plugin's per-job logs, named by SLURM job id (kept: slurm-keep-successful-logs).
    logs = {p.stem: p for p in (work / "slurm/.snakemake/slurm_logs").rglob("*.log")}
    check(sorted(logs, key=int) == sorted((j["id"] for j in jobs), key=int),
          f"one .snakemake/slurm_logs/rule_*/*/<jobid>.log per SLURM job ({len(logs)})")
    # Inside each job, Snakemake ran the job's rule through the plugin's job step (srun).
    inside = [j["id"] for j in jobs if j["id"] in logs
              and "--executor slurm-jobstep" in (text := logs[j["id"]].read_text())
              and f"(Rule: {j['rule']})" in text]
    check(len(inside) == len(jobs), f"each job log shows its rule finished in a slurm-jobstep ({len(inside)}/{len(jobs)})")


def computed(text: str) -> str:
    """What a run computed in a text output: without the line that dates the run (summary.md's "Run finished <time>
    on <machine>") and the plan's calibration (timed on the machine: plan.md's text block, also in summary.md)."""
    out, timed = [], False
    for line in text.splitlines():
        if timed or line == "```text":
            timed = line != "```"
        elif not line.startswith("Run finished "):
            out.append(line)
    return "\n".join(out)


def same_text(a: Path, b: Path, work: Path) -> bool:
    """Text equal once each run's absolute working directory is written <work> and its finish time is dropped."""
    return (computed(a.read_text().replace(str(work / "local"), "<work>"))
            == computed(b.read_text().replace(str(work / "slurm"), "<work>")))


def same_h5(a: Path, b: Path, work: Path) -> bool:
    with h5py.File(a) as fa, h5py.File(b) as fb:
        def content(f, root):
            items = {}

            def visit(name, obj):
                attrs = {k: str(v).replace(str(root), "<work>") for k, v in obj.attrs.items()}
                if "recipe" in attrs:  # holds the source video's mtime: each run generated its own
                    attrs["recipe"] = {k: v for k, v in json.loads(attrs["recipe"]).items() if k != "source_mtime_ns"}
                data = obj[()] if isinstance(obj, h5py.Dataset) else None
                items[name] = (attrs, data)
            visit("/", f)
            f.visititems(visit)
            return items
        ca, cb = content(fa, work / "local"), content(fb, work / "slurm")
        if ca.keys() != cb.keys():
            return False
        for k in ca:
            (aa, da), (ab, db) = ca[k], cb[k]
            if aa != ab:
                return False
            if da is not None and not (da.dtype == db.dtype and da.shape == db.shape
                                       and all(np.array_equal(x, y) for x, y in zip(da.ravel(), db.ravel()))):
                return False
        return True


def same_npz(a: Path, b: Path) -> bool:
    with np.load(a, allow_pickle=False) as x, np.load(b, allow_pickle=False) as y:
        return x.files == y.files and all(np.array_equal(x[k], y[k]) for k in x.files)


def same_checkpoint(a: Path, b: Path) -> bool:
    """Same weights and config (the history holds wall times, so the files' bytes differ)."""
    x, y = torch.load(a, map_location="cpu", weights_only=False), torch.load(b, map_location="cpu", weights_only=False)
    sx, sy = x["state_dict"], y["state_dict"]
    return (x["config"] == y["config"] and sx.keys() == sy.keys()
            and all(torch.equal(sx[k], sy[k]) for k in sx))


def outputs(work: Path) -> None:
    """Every output of the SLURM run equals the local run's."""
    tops = ("data", "results", "shards", "models")
    files = {top: sorted(p.relative_to(work / "local") for p in (work / "local" / top).rglob("*") if p.is_file())
             for top in tops}
    for top in tops:
        other = sorted(p.relative_to(work / "slurm") for p in (work / "slurm" / top).rglob("*") if p.is_file())
        check(files[top] == other, f"{top}/: the same {len(files[top])} files in both runs")
    for top in tops:
        differ = []
        for rel in files[top]:
            a, b = work / "local" / rel, work / "slurm" / rel
            if not b.exists():
                continue
            if rel.name.endswith(".history.csv"):  # a trainer's history as it went: its wall times differ
                same = pd.read_csv(a).drop(columns="seconds").equals(pd.read_csv(b).drop(columns="seconds"))
            elif rel.suffix in (".csv", ".md", ".txt", ".json"):
                same = same_text(a, b, work)
            elif rel.suffix == ".h5":
                same = same_h5(a, b, work)
            elif rel.suffix == ".npz":
                same = same_npz(a, b)
            elif rel.suffix == ".pt":
                same = same_checkpoint(a, b)
            elif "tensorboard" in rel.parts or any(part.endswith(".events") for part in rel.parts):
                continue  # event files record wall times; their scalars are in training_curves.csv, history.csv
            else:
                same = a.read_bytes() == b.read_bytes()
            if not same:
                differ.append(str(rel))
        check(not differ, f"{top}/: contents equal to the local run's" + (f"; differ: {differ}" if differ else ""))
        if differ and top == "models":
            print("      (the same data and commands give other weights: is every random draw of training seeded,"
                  " the initial weights included? torch 2.15 starts each process from a random seed)")
    table = next((work / "slurm/results").glob("*/tiny/two_stream.csv")).read_text()  # results/<run>/ (twostream.paths)
    print("two_stream.csv (SLURM run):\n  " + table.strip().replace("\n", "\n  "))


def main() -> int:
    work, profile_path = Path(sys.argv[1]).resolve(), Path(sys.argv[2])
    with open(profile_path) as f:
        profile = yte.process_yaml(f, require_use_yte=True)
    slurm_jobs(work, profile)
    outputs(work)
    if FAILED:
        print(f"{len(FAILED)} check(s) failed")
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
