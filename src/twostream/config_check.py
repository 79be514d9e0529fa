"""Config checks the schema cannot express, run by the Snakefile right after validation, before any job.

Each problem is one line naming the dataset and the keys (or the folder); all of them are reported at once.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import Any

SPLITS = {"synthetic": 3, "ucf101": 3, "hmdb51": 3, "kinetics400": 1, "folder": 1}


class ConfigError(Exception):
    """One or more config problems, one per line."""


def dataset_problems(name: str, d: Mapping[str, Any]) -> list[str]:
    """The problems of one dataset's settings (paths are relative to the working directory)."""
    where = f"dataset {name!r}"
    problems = []
    height, width = d["size"]
    if d["crop"] > min(height, width):
        problems.append(f"{where}: crop {d['crop']} is larger than the frame size {list(d['size'])}"
                        f" (datasets.{name}.crop, datasets.{name}.size)")
    extra = sorted(k for k in d["splits"] if k > SPLITS[d["kind"]])
    if extra:
        problems.append(f"{where}: splits {extra} do not exist, a {d['kind']} dataset has"
                        f" {SPLITS[d['kind']]} (datasets.{name}.splits)")
    for key in ("root", "splits_dir"):
        if key in d and not os.path.isdir(d[key]):
            problems.append(f"{where}: {key} folder not found: {os.path.abspath(d[key])} (datasets.{name}.{key})")
    for path in d.get("annotations", []):
        if not os.path.isfile(path):
            problems.append(f"{where}: annotation file not found: {os.path.abspath(path)} (datasets.{name}.annotations)")
    return problems


OUTPUT_FOLDERS = ("data", "results", "shards", "models", "logs")  # what the rules write, under the working directory


def folder_problems(names: list[str]) -> list[str]:
    """Output folders (or, where one does not exist yet, the folder it would be made in) that cannot be written."""
    problems = []
    for folder in [*OUTPUT_FOLDERS, *(f"{top}/{name}" for top in OUTPUT_FOLDERS[1:4] for name in names)]:
        if os.path.isdir(folder) and not os.access(folder, os.W_OK | os.X_OK):
            problems.append(f"folder {os.path.abspath(folder)} is not writable (read-only or no permission)")
    return problems


def check_config(config: Mapping[str, Any]) -> None:
    """Raise ConfigError listing every dataset problem of a schema-validated config, and unwritable outputs."""
    problems = [p for name, d in config["datasets"].items() for p in dataset_problems(name, d)]
    problems += folder_problems(list(config["datasets"]))
    if problems:
        raise ConfigError("\n".join(problems))


def exit_on_problems(config: Mapping[str, Any]) -> None:
    """For the Snakefile: print the problems, one line each, and stop before any job runs."""
    try:
        check_config(config)
    except ConfigError as e:
        print("\n".join(f"config error: {line}" for line in str(e).splitlines()), file=sys.stderr)
        raise SystemExit(1) from None
