"""The profiles against the rules, without a cluster (fast): every GPU rule asks SLURM for a GPU,
the SLURM profile names existing rules only, and Snakemake reads both profiles as intended."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import yaml


def rules(repo: Path) -> dict[str, str]:
    """Rule name -> its text, for every rule and checkpoint in workflow/rules/; a rule made by
    ``use rule A as B with:`` gets A's text followed by its own."""
    found, derived = {}, []
    for path in sorted((repo / "workflow/rules").glob("*.smk")):
        text = path.read_text()
        starts = list(re.finditer(r"^(?:(?:rule|checkpoint) (\w+)|use rule (\w+) as (\w+) with):", text, re.M))
        for m, nxt in zip(starts, starts[1:] + [None]):
            body = text[m.start():nxt.start() if nxt else len(text)]
            if m.group(1):
                found[m.group(1)] = body
            else:
                derived.append((m.group(2), m.group(3), body))
    for parent, name, body in derived:
        found[name] = found[parent] + body
    return found


def slurm_profile(repo: Path) -> dict:
    return yaml.safe_load((repo / "profiles/slurm/profile.yaml").read_text())


def test_gpu_rules_ask_slurm_for_a_gpu(repo: Path) -> None:
    """A rule with a gpu resource gets gpu >= 1 from the profile: its own is 0 on a submit host without GPUs."""
    gpu_rules = {name for name, text in rules(repo).items() if re.search(r"^\s+gpu\s*=", text, re.M)}
    assert gpu_rules, "no rule declares a gpu resource"
    resources = slurm_profile(repo)["set-resources"]
    missing = sorted(r for r in gpu_rules if resources.get(r, {}).get("gpu", 0) < 1)
    assert not missing, f"GPU rules without gpu: 1 under set-resources in profiles/slurm/profile.yaml: {missing}"


def test_slurm_profile_names_existing_rules(repo: Path) -> None:
    names = set(rules(repo))
    profile = slurm_profile(repo)
    named = set(profile["set-resources"]) | set(profile["set-threads"]) | set(profile["preemptible-rules"])
    assert named <= names, f"profiles/slurm/profile.yaml names unknown rules: {sorted(named - names)}"


def parse(repo: Path, *args: str):
    """Snakemake's own reading of the command line and profiles, from a folder outside the repository."""
    from snakemake.cli import parse_args

    cwd = os.getcwd()
    os.chdir(repo.parent)
    try:
        return parse_args(["--snakefile", str(repo / "Snakefile"), *args])[1]
    finally:
        os.chdir(cwd)


def test_default_profile_loads_by_itself(repo: Path) -> None:
    args = parse(repo, "--cores", "2")
    assert args.scheduler == "greedy" and args.scheduler_subsample == 100
    assert args.resources["gpu"].value == 1


def test_slurm_profile_replaces_the_default(repo: Path) -> None:
    pytest.importorskip("snakemake_executor_plugin_slurm", reason="pip install -e '.[cluster]'")
    args = parse(repo, "--workflow-profile", str(repo / "profiles/slurm"))
    assert args.executor == "slurm" and args.scheduler == "greedy"
    assert "gpu" not in args.resources, "a GPU cap from profiles/default would throttle the cluster"
    assert args.max_threads == 8 and args.cores == 256
    assert args.set_resources["train_stream"]["gpu"].value == 1
    assert args.preemptible_rules == {"train_stream", "cmmp_train", "cma_train"} and args.preemptible_retries == 3
