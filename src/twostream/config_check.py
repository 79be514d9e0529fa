"""Config checks the schema cannot express, run by the Snakefile right after validation, before any job.

Each problem is one line naming the dataset and the keys (or the folder); all of them are reported at once.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import math
import os
import re
import sys
from collections.abc import Mapping
from typing import Any

from twostream import kinds, specs
from twostream.data.rawframes.naming import RawframesError
from twostream.data.rawframes.templates import Template

SPLITS = {"synthetic": 3, "ucf101": 3, "hmdb51": 3, "kinetics400": 1, "folder": 1}


class ConfigError(Exception):
    """One or more config problems, one per line."""


def dataset_problems(name: str, d: Mapping[str, Any]) -> list[str]:
    """The problems of one dataset's settings (paths are relative to the working directory)."""
    where = f"dataset {name!r}"
    problems = []
    if "size" in d and d["crop"] > min(d["size"]):  # rawframes keep their size: the import checks nothing here
        problems.append(f"{where}: crop {d['crop']} is larger than the frame size {list(d['size'])}"
                        f" (datasets.{name}.crop, datasets.{name}.size)")
    n_splits = len(d["lists"]) if d["kind"] == "mmaction2" else SPLITS[d["kind"]]
    extra = sorted(k for k in d["splits"] if k > n_splits)
    if extra:
        key = "lists" if d["kind"] == "mmaction2" else "splits"
        problems.append(f"{where}: splits {extra} do not exist, a {d['kind']} dataset has"
                        f" {n_splits} (datasets.{name}.{key})")
    for key in ("root", "splits_dir"):
        if key in d and not os.path.isdir(d[key]):
            problems.append(f"{where}: {key} folder not found: {os.path.abspath(d[key])} (datasets.{name}.{key})")
    for path in d.get("annotations", []):
        if not os.path.isfile(path):
            problems.append(f"{where}: annotation file not found: {os.path.abspath(path)} (datasets.{name}.annotations)")
    for path in [p for pair in d.get("lists", []) for p in pair] + ([d["classes"]] if "classes" in d else []):
        if not os.path.isfile(path):
            key = "classes" if path == d.get("classes") else "lists"
            problems.append(f"{where}: file not found: {os.path.abspath(path)} (datasets.{name}.{key})")
    templates = d.get("rawframes", {}).get("filename_tmpl", {})
    for part in ("rgb", "flow"):
        if part in templates:
            try:
                Template(templates[part], part == "flow")
            except RawframesError as e:
                problems.append(f"{where}: {e} (datasets.{name}.rawframes.filename_tmpl.{part})")
    if "classes" in d and d["kind"] != "mmaction2":
        problems.append(f"{where}: a classes file is only read by the mmaction2 kind (datasets.{name}.classes)")
    if "lists" in d and d["kind"] != "mmaction2":
        problems.append(f"{where}: file lists are only read by the mmaction2 kind (datasets.{name}.lists)")
    return problems


OUTPUT_FOLDERS = ("data", "results", "shards", "models", "logs")  # what the rules write, under the working directory


def folder_problems(names: list[str]) -> list[str]:
    """Output folders (or, where one does not exist yet, the folder it would be made in) that cannot be written."""
    problems = []
    for folder in [*OUTPUT_FOLDERS, *(f"{top}/{name}" for top in OUTPUT_FOLDERS[1:4] for name in names)]:
        existing = os.path.abspath(folder)
        while not os.path.isdir(existing) and os.path.dirname(existing) != existing:
            existing = os.path.dirname(existing)
        if not os.access(existing, os.W_OK | os.X_OK):  # a read-only mount too, whoever runs
            problems.append(f"folder {existing} is not writable (read-only or no permission)")
    return list(dict.fromkeys(problems))  # a read-only working directory: one line


def schedule_paths(config: Mapping[str, Any]) -> list[str]:
    """The config paths of the schedule blocks of every kind the config trains (``train.rgb``, ``cma.schedule``, ...)."""
    paths = []
    for kind in kinds.configured(config):
        path = specs.path_of(next(f for f in dataclasses.fields(kind.spec) if f.name == "schedule"))
        paths += [path.format(modality=m) for m in ("rgb", "flow")] if "{modality}" in path else [path]
    return paths


def schedule_problems(config: Mapping[str, Any]) -> list[str]:
    """Schedules whose plateau rule cannot act: with patience p the first cut comes after epoch p + 1 at the
    earliest, so a run of p + 1 epochs or fewer never trains at the lower rate (the rule would be a silent no-op)."""
    problems = []
    for path in schedule_paths(config):
        section, name = path.split(".")
        s = config[section][name]
        patience, epochs = s.get("plateau_patience", 0), s.get("epochs")
        if patience and epochs is not None and patience + 1 >= math.ceil(epochs):
            problems.append(f"{path}.plateau_patience {patience} cannot lower the learning rate within {epochs} "
                            f"epochs (the first cut can follow epoch {patience + 1}): lower it, or train longer")
    return problems


DEVICE_KEYS = ("flow.device", "train.device")


def device_problems(config: Mapping[str, Any], gpus: int) -> list[str]:
    """Configured CUDA devices (``cuda``, ``cuda:N``) that this machine, with ``gpus`` GPUs visible, lacks."""
    problems = []
    for key in DEVICE_KEYS:
        section, name = key.split(".")
        device = config[section][name]
        if not device.startswith("cuda"):
            continue
        index = int(device.partition(":")[2] or 0)
        if index < gpus:
            continue
        have = "no NVIDIA GPU" if not gpus else f"{gpus} GPU{'s' * (gpus > 1)} (cuda:0{f'..cuda:{gpus - 1}' * (gpus > 1)})"
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        where = f" (CUDA_VISIBLE_DEVICES={visible!r})" if visible is not None else ""
        problems.append(f"{key} is {device} but this machine has {have}{where}: set {key} to auto or cpu")
    return problems


def model_problems(config: Mapping[str, Any]) -> list[str]:
    """ImageNet weights asked for a depth that has none (ResNet-10)."""
    model = config["model"]
    if model["pretrained"] == "imagenet" and model["depth"] == 10:
        return ["model.pretrained is imagenet but no ImageNet weights exist for ResNet-10 (model.depth 10): set "
                "model.pretrained to none or a state dict's path, or model.depth to 18 or more"]
    return []


def check_config(config: Mapping[str, Any], gpus: int | None = None) -> None:
    """Raise ConfigError listing every dataset problem of a schema-validated config, plateau rules that cannot act,
    unwritable outputs, and
    (``gpus``: how many this machine has, None where the jobs run elsewhere) configured GPUs that are not there."""
    problems = [p for name, d in config["datasets"].items() for p in dataset_problems(name, d)]
    problems += schedule_problems(config)
    problems += model_problems(config)
    problems += folder_problems(list(config["datasets"]))
    if gpus is not None:
        problems += device_problems(config, gpus)
    if problems:
        raise ConfigError("\n".join(problems))


def exit_on_problems(config: Mapping[str, Any], gpus: int | None = None) -> None:
    """For the Snakefile: print the problems, one line each, and stop before any job runs."""
    try:
        check_config(config, gpus)
    except ConfigError as e:
        exit_with(str(e).splitlines())


def exit_with(problems: list[str]) -> None:
    """Print the problems as ``config error:`` lines and stop Snakemake (no job starts after it), if any."""
    if problems:
        print("\n".join(f"config error: {line}" for line in problems), file=sys.stderr)
        raise SystemExit(1)


@functools.lru_cache(maxsize=64)
def _training_counts(manifest: str, mtime_ns: int) -> tuple[int, dict[int, int]]:
    with open(manifest, newline="") as f:
        rows = list(csv.DictReader(f))
    columns = [c for c in (rows[0] if rows else {}) if re.fullmatch(r"split\d+", c)]
    return len(rows), {int(c[5:]): sum(r[c] == "train" for r in rows) for c in columns}


def training_counts(manifest: str | os.PathLike) -> tuple[int, dict[int, int]]:
    """Videos of a manifest and its training videos per split number (read once per version of the file, with the
    csv module: every training job of the Snakefile asks)."""
    return _training_counts(str(manifest), os.stat(manifest).st_mtime_ns)


def training_set_problems(config: Mapping[str, Any], dataset: str, train: Mapping[int, int]) -> list[str]:
    """Each split of ``dataset`` whose training videos (``train``: count per split) are fewer than one batch of a
    trainer that trains on it: the trainer, its batch key and how many there are."""
    problems = []
    for kind in kinds.configured(config):
        field = next(f for f in dataclasses.fields(kind.spec) if f.name == "batch_size")
        key = specs.path_of(field)
        batch = specs.lookup(config, key, {"dataset": dataset})
        trained = sorted({int(k) for path in kind.checkpoints(config, dataset) for k in re.findall(r"/split(\d+)[/.]", path)})
        for k in trained:
            if train.get(k, 0) < batch:
                problems.append(f"dataset {dataset!r}: split {k} has {train.get(k, 0)} training videos, fewer than one "
                                f"{kind.name} batch ({key}: {batch}): add videos or lower {key}")
    return problems
