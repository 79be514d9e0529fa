"""``--spec`` JSON for the twostream commands the tests call, built as the rules build it: ``spec_for`` on
tests/workflow/tiny.yaml with the schema's defaults filled in, then the test's own values."""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path

import yaml

from twostream import specs
from twostream.specs import spec_for

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "workflow/schemas/config.schema.yaml"
# A small CPU run: what the unit tests' tiny shards and networks take.
SMALL = {"segments": 2, "crop": 24, "batch_size": 2, "device": "cpu", "hflip": False}
WILDCARDS = {"dataset": "tiny", "modality": "rgb", "variant": "cmmp", "iteration": 1}


@functools.cache
def _config() -> dict:
    from snakemake.utils import validate  # fills the schema's defaults, as the Snakefile does

    config = yaml.safe_load((REPO / "tests/workflow/tiny.yaml").read_text())
    validate(config, str(SCHEMA))
    return config


def config() -> dict:
    """tiny.yaml with the schema's defaults (a copy)."""
    return copy.deepcopy(_config())


def schedule_defaults() -> dict:
    """The schema's defaults of a schedule's optional keys ($defs/schedule)."""
    properties = yaml.safe_load(SCHEMA.read_text())["$defs"]["schedule"]["properties"]
    return {k: v["default"] for k, v in properties.items() if "default" in v}


def spec(cls: type, *, schedule: dict | None = None, wildcards: dict | None = None, **values) -> str:
    """``cls``'s spec from tiny.yaml (``wildcards`` over WILDCARDS); ``schedule`` (lr and epochs or steps, at least,
    over the schema's defaults) and ``values`` replace what the config gives."""
    data = json.loads(spec_for(cls, config(), {**WILDCARDS, **(wildcards or {})}))
    if schedule is not None:
        data["schedule"] = {**schedule_defaults(), **schedule}
    unknown = set(values) - set(data) - {f for f in cls.__dataclass_fields__}
    if unknown:
        raise KeyError(f"{cls.__name__} has no field(s) {', '.join(sorted(unknown))}")
    return json.dumps({**data, **values})


def training(cls: type, schedule: dict, **values) -> str:
    """A trainer's spec for a small CPU run (SMALL), ``values`` over it."""
    return spec(cls, schedule=schedule, **{**{k: v for k, v in SMALL.items() if k in cls.__dataclass_fields__},
                                           **values})


def evaluation(**values) -> str:
    """``twostream evaluate``'s spec of a small CPU run: 2 segments x 1 crop, SMALL's crop and device."""
    small = {k: SMALL[k] for k in ("crop", "hflip", "batch_size", "device")}
    return spec(specs.EvaluateSpec, **{**small, "test_segments": 2, "crops": 1, **values})


def extraction(chunk_size: int, size: tuple[int, int], **values) -> str:
    """``twostream extract``'s spec: the flow section's defaults on the CPU (opencv-cpu), overridable by keyword."""
    return spec(specs.ExtractSpec, **{"backend": "opencv-cpu", "device": "auto", "variant": "cpu",
                                      "chunk_size": chunk_size, "size": list(size), **values})


def schedule(**given):
    """An engine Schedule: ``given`` fields, the rest as the schema's defaults (no milestones, SGD momentum 0.9,
    ...) and tiny.yaml's train section."""
    from twostream.train.engine import Schedule

    d, train = schedule_defaults(), _config()["train"]
    return Schedule(**{"milestones": d["milestones"], "plateau_patience": d["plateau_patience"],
                       "momentum": d["momentum"], "weight_decay": d["weight_decay"], "clip_grad": d["clip_grad"],
                       "workers": train["workers"], "checkpoint_every": train["checkpoint_every"], "precision": "fp32",
                       "compile": train["compile"], "prefetch": train["prefetch"], **given})
