"""Running Snakemake in the workflow tests and reading what its dry runs print."""

from __future__ import annotations

import copy
import json
import re
import shlex
import subprocess
from pathlib import Path

import yaml

from twostream import kinds, paths
from twostream.config import prepare
from twostream.workflow import snakemake_command

REPO = Path(__file__).resolve().parents[2]
TINY = REPO / "tests/workflow/tiny.yaml"


def snakemake(work: Path, config: dict, *args: str) -> subprocess.CompletedProcess:
    """``snakemake --cores 2 ARGS`` in ``work`` with ``config`` as its only config file."""
    path = work / "config.run.yaml"
    path.write_text(yaml.safe_dump(config))
    cmd, env = snakemake_command(work, *args, configfile=path)
    return subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True)


def tiny_config(work: Path) -> dict:
    """tiny.yaml plus `ext`, a second dataset in UCF-101's official layout under ``work/ext`` (relative paths)."""
    config = yaml.safe_load(TINY.read_text())
    ext = config["datasets"]["tiny"]
    config["datasets"]["ext"] = {"kind": "ucf101", "root": "ext/videos", "splits_dir": "ext/splits",
                                 **{k: ext[k] for k in ("splits", "size", "crop", "hflip")}}
    return config


def prepared(config: dict) -> dict:
    """A copy of ``config`` as the workflow reads it (defaults filled in, datasets switched off dropped)."""
    config = copy.deepcopy(config)
    prepare(config)
    return config


def run_dir(config: dict) -> str:
    """The folder of a config's tables, figures and summary (``twostream.kinds.run_dir``)."""
    return kinds.run_dir(prepared(config))


def data_dir(config: dict, dataset: str) -> str:
    """A dataset's shard index and failures folder (``twostream.paths.data``)."""
    return paths.data(prepared(config), dataset)


def job_counts(output: str) -> dict[str, int]:
    """The 'Job stats' table of a Snakemake run or dry run: rule -> number of jobs."""
    lines = output[output.index("Job stats:"):].splitlines()[3:]
    counts = {}
    for line in lines:
        rule, count = line.split()
        if rule == "total":
            return counts
        counts[rule] = int(count)
    raise ValueError("no total line after 'Job stats:'")


def job_blocks(output: str) -> list[tuple[str, str]]:
    """(rule, its lines) of every job a dry run lists."""
    blocks = re.split(r"\n(?=(?:local)?(?:rule|checkpoint) \w+:)", output)
    heads = [(re.match(r"(?:local)?(?:rule|checkpoint) (\w+):", b), b) for b in blocks]
    return [(head.group(1), block) for head, block in heads if head]


def jobs(output: str) -> list[tuple[str, dict[str, str], str]]:
    """(rule, wildcards, reason) of every job a dry run lists."""
    found = []
    for rule, block in job_blocks(output):
        wildcards = re.search(r"^\s+wildcards: (.*)$", block, re.M)
        reason = re.search(r"^\s+reason: (.*)$", block, re.M)
        pairs = (w.split("=", 1) for w in wildcards.group(1).split(", ")) if wildcards else ()
        found.append((rule, dict(pairs), reason.group(1) if reason else ""))
    return found


def shell_commands(output: str) -> list[tuple[str, str]]:
    """(rule, shell command) of every job a dry run with ``-p`` lists."""
    found = []
    for rule, block in job_blocks(output):
        command = re.search(r"^Shell command: (.+)$", block, re.M)
        if command and command.group(1) != "None":  # `rule all` has none
            found.append((rule, command.group(1)))
    return found


def twostream_call(command: str) -> tuple[list[str], dict[str, str], dict]:
    """(argv after ``twostream``, {flag: value}, decoded --spec) of a rule's ``twostream`` shell command."""
    words = shlex.split(command, posix=True)
    start = words.index("twostream") + 1  # after `python -m` or a launcher; a leading `: > log;` is skipped
    ends = [i for i, w in enumerate(words[start:], start) if w in (">", ">>", "2>", "2>>", "|", ";", "2>&1")]
    argv = words[start:ends[0] if ends else None]
    flags = {w: argv[i + 1] for i, w in enumerate(argv[:-1]) if w.startswith("--")}
    return argv, flags, json.loads(flags.get("--spec", "{}"))
