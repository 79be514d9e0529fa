"""Every config value a command uses, declared once: one frozen dataclass per command, each field tagged
with the config path it is read from.

A rule builds its command's ``--spec`` with ``spec_for(Spec, config, wildcards)``: the values at the
fields' paths, as one JSON object. A rule keeps no list of keys, and a config edit re-runs exactly
the rules whose spec holds the edited key. The command reads the JSON back with ``parse`` (types
checked, unknown keys refused). No field has a default: every default lives in the config schema
(``workflow/schemas/config.schema.yaml``), which Snakemake fills in before any job runs;
``tests/test_specs.py`` checks each field's type against the schema at its path.

Paths are dotted config keys; ``{name}`` in a path is the job's wildcard of that name
(``datasets.{dataset}.crop``), and a path that is only ``{name}`` is the wildcard's value itself (a CMMP
variant, a CMA iteration). A field typed ``X | None`` may be absent from the config (a section that is not
configured); it is then left out of the JSON. A nested dataclass (``Schedule``) reads keys named as its
fields from the object at its path. This module stays light (no torch): the Snakefile imports it.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
SCHEMA = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"


def key(path: str) -> Any:
    """A spec field read from config ``path`` (dotted keys; ``{name}``: the job's wildcard)."""
    return field(metadata={"key": path})


def path_of(f: dataclasses.Field) -> str:
    """The config path of a top-level spec field."""
    return f.metadata["key"]


# --- the shared parts of specs ---


@dataclass(frozen=True)
class Schedule:
    """A trainer's ``schedule`` block ($defs/schedule): SGD, a length in epochs or steps (exactly one), lr
    divided by 10 at ``milestones`` (in the same unit) and, with ``plateau_patience``, on a loss plateau."""

    lr: float
    epochs: float | None
    steps: int | None
    milestones: list[float]
    weight_decay: float
    momentum: float
    clip_grad: float  # max gradient norm; 0 disables
    plateau_patience: int  # lr / 10 when the epoch loss has not improved for this many epochs (0: off)


@dataclass(frozen=True)
class Loading:
    """How a job reads clips and computes on them: flow stack length, crops, the loader, device and precision."""

    length: int = key("train.length")
    crop: int = key("datasets.{dataset}.crop")
    hflip: bool = key("datasets.{dataset}.hflip")  # test flips follow the training flips
    workers: int = key("train.workers")
    device: str = key("train.device")
    precision: str = key("train.precision")  # auto | bf16 | fp16 | fp32
    decode: str = key("train.decode")  # cpu | gpu | auto


@dataclass(frozen=True)
class Training(Loading):
    """The config values every trainer uses: TSN sampling, the loader, device and speed options, the seed.

    Each trainer adds its ``batch_size`` and ``schedule`` (from its own section) and its own values."""

    segments: int = key("train.segments")
    compile: bool = key("train.compile")
    prefetch: int = key("train.prefetch")
    seed: int = key("seed")
    checkpoint_every: int = key("train.checkpoint_every")
    validate_every: int = key("train.validate_every")  # steps between validations (0: at each epoch end)


# --- trainers (twostream train --kind K) ---


@dataclass(frozen=True)
class StreamSpec(Training):
    """Stage 1: one stream, RGB or flow (``train.rgb`` / ``train.flow`` are the two streams' schedules)."""

    modality: str = key("{modality}")
    batch_size: int = key("train.batch_size")
    schedule: Schedule = key("train.{modality}")
    depth: int = key("model.depth")
    pretrained: str = key("model.pretrained")  # none | imagenet | path to a state dict
    torch_home: str = key("model.torch_home")
    dropout: float = key("model.dropout")


@dataclass(frozen=True)
class CMMPSpec(Training):
    """CMMP stage 2: one Table 1 variant trained jointly from the stage-1 streams."""

    variant: str = key("{variant}")
    batch_size: int = key("cmmp.batch_size")
    schedule: Schedule = key("cmmp.schedule")
    per_sample_al: bool = key("cmmp.per_sample_al")


@dataclass(frozen=True)
class CMASpec(Training):
    """One CMA iteration (odd: the RGB branch, even: the flow branch)."""

    iteration: int = key("{iteration}")
    batch_size: int = key("cma.batch_size")
    schedule: Schedule = key("cma.schedule")
    pretrained: str = key("model.pretrained")  # iteration 1's new RGB branch
    torch_home: str = key("model.torch_home")
    dropout: float = key("cma.dropout")
    nonlocal_rgb: bool = key("cma.nonlocal_rgb")


@dataclass(frozen=True)
class ConvFusionSpec(Training):
    """Conv fusion, the positive control, trained from the stage-1 streams."""

    batch_size: int = key("conv_fusion.batch_size")
    schedule: Schedule = key("conv_fusion.schedule")
    stage: str = key("conv_fusion.stage")  # ResNet stage after which the maps are fused


# --- data ---


@dataclass(frozen=True)
class SyntheticSpec:
    """The embedded dataset's generator (a synthetic dataset's ``synthetic:`` section)."""

    colours: int = key("datasets.{dataset}.synthetic.colours")
    directions: int = key("datasets.{dataset}.synthetic.directions")
    groups: int = key("datasets.{dataset}.synthetic.groups")  # split k tests groups g with (g - 1) % 3 == k - 1
    clips_per_group: int = key("datasets.{dataset}.synthetic.clips_per_group")
    val_clips: int = key("datasets.{dataset}.synthetic.val_clips")  # validation videos per class (group 0)
    frames: int = key("datasets.{dataset}.synthetic.frames")
    size: tuple[int, int] = key("datasets.{dataset}.synthetic.size")  # (H, W)
    seed: int = key("datasets.{dataset}.synthetic.seed")


@dataclass(frozen=True)
class ExtractSpec:
    """Flow and packing of one chunk: ``flow.*``, the dataset's frame size, the flow stack length."""

    backend: str = key("flow.backend")
    device: str = key("flow.device")
    variant: str = key("flow.variant")  # torch backend: the OpenCV class it follows (cpu, cuda)
    batch_pairs: int = key("flow.batch_pairs")  # frame pairs per flow batch (0: from GPU memory, or 8 on CPU)
    bound: float = key("flow.bound")
    chunk_size: int = key("flow.chunk_size")
    jpeg_quality: int = key("flow.jpeg_quality")  # of frames and quantised flow
    size: tuple[int, int] = key("datasets.{dataset}.size")  # frames resized to (H, W)
    length: int = key("train.length")  # videos shorter than one stack are noted


@dataclass(frozen=True)
class FilenameTemplates:
    """mmaction2 ``filename_tmpl``s of a rawframes dataset's frames and flow (None: detected from its files)."""

    rgb: str | None
    flow: str | None


@dataclass(frozen=True)
class Rawframes:
    """A rawframes dataset's ``rawframes:`` block: what its file names cannot tell (docs/rawframes.md)."""

    encoding: str  # of the flow images: denseflow | twostream
    bound: float  # the flow bound they were made with, in pixels
    start_index: int | None  # the first frame number (None: detected)
    filename_tmpl: FilenameTemplates | None


@dataclass(frozen=True)
class ImportSpec:
    """Packing one chunk of a rawframes dataset: its ``rawframes`` block, the shards' flow scale (``flow.bound``,
    which the loader maps the flow images to), the JPEG quality of images that are not JPEG, the stack length."""

    rawframes: Rawframes = key("datasets.{dataset}.rawframes")
    bound: float = key("flow.bound")
    chunk_size: int = key("flow.chunk_size")
    jpeg_quality: int = key("flow.jpeg_quality")
    length: int = key("train.length")  # videos shorter than one stack are noted


# --- evaluation, tables, figures ---


@dataclass(frozen=True)
class EvaluateSpec(Loading):
    """Test scores of a checkpoint of any kind: ``eval.*`` on top of how clips are read."""

    test_segments: int = key("eval.test_segments")
    crops: int = key("eval.crops")  # 1 (centre), 5 (corners + centre) or 10 (and their flips)
    batch_size: int = key("eval.batch_size")


@dataclass(frozen=True)
class Protocol:
    """The test protocol every table's note states."""

    test_segments: int = key("eval.test_segments")
    crops: int = key("eval.crops")


Weights = tuple[float, float]  # RGB:flow


@dataclass(frozen=True)
class TwoStreamTableSpec(Protocol):
    two_stream_weights: Weights = key("eval.two_stream_weights")


@dataclass(frozen=True)
class CMMPTable1Spec(Protocol):
    fusion_weights: Weights = key("cmmp.fusion_weights")


@dataclass(frozen=True)
class CMMPTable2Spec(Protocol):
    fusion_weights: Weights = key("cmmp.fusion_weights")
    two_stream_weights: Weights = key("eval.two_stream_weights")


@dataclass(frozen=True)
class FusionBaselinesSpec(Protocol):
    """Late fusion's weights, CMMP's (where configured) and, on the embedded data, its number of directions
    (adds colour- and direction-correct rates)."""

    two_stream_weights: Weights = key("eval.two_stream_weights")
    fusion_weights: Weights | None = key("cmmp.fusion_weights")
    directions: int | None = key("datasets.{dataset}.synthetic.directions")


@dataclass(frozen=True)
class CMAFusion:
    """RGB:flow weights of the fused CMA score: after odd iterations, after even ones, of iteration 0."""

    odd: Weights
    even: Weights
    baseline: Weights


@dataclass(frozen=True)
class CMATablesSpec(Protocol):
    fusion: CMAFusion = key("cma.fusion")


@dataclass(frozen=True)
class CMAFusionFigureSpec:
    weights: list[str] = key("cma.figures.weights")  # RGB:flow pairs ("1:5"), in plotting order


@dataclass(frozen=True)
class CMAAttentionFigureSpec:
    videos: int = key("cma.figures.videos")  # test videos, evenly spaced over the test list
    queries: int = key("cma.figures.queries")  # query points per video, strongest to weakest motion
    crop: int = key("datasets.{dataset}.crop")
    device: str = key("train.device")


# --- building a spec from the config (Snakefile) and reading it back (commands) ---


@functools.cache
def _schema() -> dict:
    import yaml

    return yaml.safe_load(SCHEMA.read_text())


def schema_node(path: str) -> dict | None:
    """The schema of a config path (``datasets.ucf101.crop``, ``train.rgb``; any name fills a ``{wildcard}``), $refs
    followed; None where the schema has no such key."""
    root = _schema()
    node: dict | None = root
    for part in path.split("."):
        node = _resolved(root, node)
        if node is None:
            return None
        if part in node.get("properties", {}):
            node = node["properties"][part]
        elif isinstance(node.get("additionalProperties"), dict):
            node = node["additionalProperties"]
        else:
            return None
    return _resolved(root, node)


def _resolved(root: dict, node: dict | None) -> dict | None:
    while node is not None and "$ref" in node:
        target: Any = root
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target.get(part) if isinstance(target, dict) else None
        node = target
    return node


def schema_default(path: str) -> Any:
    """The schema's default of a config path (KeyError where it has none)."""
    node = schema_node(path)
    if node is None or "default" not in node:
        raise KeyError(f"the schema has no default for {path}")
    return node["default"]


class SpecError(ValueError):
    """A spec that does not fit its dataclass; the message names the key and the reason."""


_MISSING = object()


def lookup(config: Mapping[str, Any], path: str, wildcards: Mapping[str, Any]) -> Any:
    """The config value at ``path`` (``{name}`` filled from ``wildcards``), or ``_MISSING``."""
    if path.startswith("{") and path.endswith("}") and path.count("{") == 1:
        return wildcards[path[1:-1]]
    value: Any = config
    for part in path.format_map(wildcards).split("."):
        if not isinstance(value, Mapping) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _optional(tp: Any) -> bool:
    return type(None) in typing.get_args(tp)


def _value(tp: Any, value: Any) -> Any:
    """The part of a config value a field of type ``tp`` holds (a nested dataclass takes its own keys)."""
    inner = [a for a in typing.get_args(tp) if a is not type(None)] if _optional(tp) else [tp]
    if len(inner) == 1 and dataclasses.is_dataclass(inner[0]) and isinstance(value, Mapping):
        return {f.name: value[f.name] for f in dataclasses.fields(inner[0]) if f.name in value}
    return value


def values(cls: type, config: Mapping[str, Any], wildcards: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The values of ``cls``'s fields, read from ``config`` at their paths (absent optional fields left out)."""
    wildcards = dict(wildcards.items()) if wildcards is not None else {}
    hints = typing.get_type_hints(cls)
    out = {}
    for f in dataclasses.fields(cls):
        value = lookup(config, path_of(f), wildcards)
        if value is _MISSING:
            if _optional(hints[f.name]):
                continue
            raise KeyError(f"{cls.__name__}.{f.name}: config key {path_of(f).format_map(wildcards)} is missing")
        if hints[f.name] is int and isinstance(value, str):  # a wildcard's value (an iteration number)
            value = int(value)
        out[f.name] = _value(hints[f.name], value)
    return out


def spec_for(cls: type, config: Mapping[str, Any], wildcards: Mapping[str, Any] | None = None) -> str:
    """A command's ``--spec``: ``cls``'s values from ``config`` as one JSON object (keys sorted, so equal values
    give an equal param and a config edit re-runs exactly the rules whose spec it changes)."""
    return json.dumps(values(cls, config, wildcards), sort_keys=True, separators=(",", ":"))


def _convert(tp: Any, value: Any, where: str) -> Any:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _convert(inner, value, where)
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, where)
    if origin in (list, tuple):
        if not isinstance(value, list):
            raise SpecError(f"{where}: expected a list, got {value!r}")
        if origin is tuple:
            if len(value) != len(args):
                raise SpecError(f"{where}: expected {len(args)} values, got {value!r}")
            return tuple(_convert(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, value)))
        return [_convert(args[0], v, f"{where}[{i}]") for i, v in enumerate(value)]
    if tp is bool:
        if not isinstance(value, bool):
            raise SpecError(f"{where}: expected true or false, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SpecError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not (isinstance(value, int) or (isinstance(value, float) and value.is_integer())):
            raise SpecError(f"{where}: expected an integer, got {value!r}")
        return int(value)
    if tp is str:
        if not isinstance(value, str):
            raise SpecError(f"{where}: expected a string, got {value!r}")
        return value
    raise TypeError(f"{where}: unsupported spec type {tp!r}")


def _build(cls: type[T], data: Any, where: str) -> T:
    if not isinstance(data, dict):
        raise SpecError(f"{where or 'spec'}: expected an object, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise SpecError(f"{where or 'spec'}: unknown key(s) {', '.join(unknown)}")
    out = {}
    for name in names:
        where_name = f"{where}.{name}" if where else name
        if name not in data and not _optional(hints[name]):
            raise SpecError(f"{where_name}: missing")
        out[name] = _convert(hints[name], data.get(name), where_name)
    return cls(**out)


def parse(cls: type[T], text: str | dict) -> T:
    """A spec dataclass from its JSON text (or the decoded object)."""
    return _build(cls, json.loads(text) if isinstance(text, str) else text, "")


def add_spec(p: argparse.ArgumentParser, cls: type) -> None:
    """``--spec JSON``, read into ``cls`` (keys: its fields)."""

    def read(text: str):
        try:
            return parse(cls, text)
        except (json.JSONDecodeError, SpecError) as e:
            raise argparse.ArgumentTypeError(f"invalid {cls.__name__}: {e}") from None

    read.__name__ = cls.__name__
    keys = ", ".join(f.name for f in dataclasses.fields(cls))
    p.add_argument("--spec", type=read, required=True, metavar="JSON",
                   help=f"the config values this command uses, as a JSON object ({keys})")
