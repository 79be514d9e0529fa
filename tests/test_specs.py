"""Specs: every config key declared once, beside its type; read from the config as rules do, back as commands do."""

from __future__ import annotations

import dataclasses
import json
import typing
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from specs import WILDCARDS, config, training

from twostream import specs
from twostream.cli import main
from twostream.specs import SpecError, key, parse, spec_for

SCHEMA = yaml.safe_load((Path(__file__).resolve().parents[1] / "workflow/schemas/config.schema.yaml").read_text())


def every_spec() -> list[type]:
    return [c for c in vars(specs).values()
            if isinstance(c, type) and dataclasses.is_dataclass(c) and c.__module__ == specs.__name__
            and all("key" in f.metadata for f in dataclasses.fields(c))]


def resolve(node: dict) -> dict:
    while "$ref" in node:
        node = {**SCHEMA["$defs"][node["$ref"].rsplit("/", 1)[1]], **{k: v for k, v in node.items() if k != "$ref"}}
    return node


WILDCARD_KEYS = {"modality": ("rgb", "flow")}  # wildcards that name fixed config keys (train.rgb, train.flow)


def schema_at(path: str) -> dict | None:
    """The schema of a config path (``datasets.{dataset}``: any dataset; ``train.{modality}``: train.rgb and
    train.flow, which must agree); None for a wildcard's value."""
    if path.startswith("{"):
        return None
    nodes = [SCHEMA]
    for part in path.split("."):
        nodes = [resolve(n) for n in nodes]
        if part[1:-1] in WILDCARD_KEYS:
            nodes = [n["properties"][k] for n in nodes for k in WILDCARD_KEYS[part[1:-1]]]
        elif part.startswith("{"):
            nodes = [n["additionalProperties"] for n in nodes]
        else:
            nodes = [n["properties"][part] for n in nodes]
    nodes = [resolve(n) for n in nodes]
    assert all(n == nodes[0] for n in nodes), f"{path}: its keys differ in the schema"
    return nodes[0]


def accepts(node: dict, tp) -> bool:
    """Whether values valid under a schema node fit a spec field type."""
    tp = next(a for a in typing.get_args(tp) if a is not type(None)) if type(None) in typing.get_args(tp) else tp
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        fields = typing.get_type_hints(tp)
        properties = node.get("properties", {})
        return node["type"] == "object" and set(fields) == set(properties) and all(
            accepts(resolve(properties[n]), t) for n, t in fields.items())
    if origin in (list, tuple):
        item = typing.get_args(tp)[0]
        fixed = origin is tuple and node.get("minItems") == node.get("maxItems") == len(typing.get_args(tp))
        return node.get("type") == "array" and (origin is list or fixed) and accepts(resolve(node["items"]), item)
    if "enum" in node:
        return all(isinstance(v, tp) and not (tp is int and isinstance(v, bool)) for v in node["enum"])
    return node.get("type") == {int: "integer", float: "number", str: "string", bool: "boolean"}[tp]


@pytest.mark.parametrize("cls", every_spec(), ids=lambda c: c.__name__)
def test_every_spec_field_has_the_schema_type_of_its_config_key(cls) -> None:
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        node = schema_at(f.metadata["key"])
        if node is not None:
            assert accepts(node, hints[f.name]), f"{cls.__name__}.{f.name}: {f.metadata['key']} is {node}"
        else:
            assert hints[f.name] in (int, str), f"{cls.__name__}.{f.name}: a wildcard is an int or a str"


@pytest.mark.parametrize("cls", every_spec(), ids=lambda c: c.__name__)
def test_a_field_is_named_as_its_config_key(cls) -> None:
    """One name per value from config to command: a field is its key's last part (or its wildcard's name); a key
    chosen by a wildcard (train.{modality}: train.rgb, train.flow) is named for what it holds (its type)."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        last = f.metadata["key"].rsplit(".", 1)[-1]
        keyed = last[1:-1] in WILDCARD_KEYS and "." in f.metadata["key"]
        named = hints[f.name].__name__.lower() if keyed else last.strip("{}")
        assert named == f.name


@pytest.mark.parametrize("cls", every_spec(), ids=lambda c: c.__name__)
def test_every_spec_reads_from_a_full_config_and_parses_back(cls) -> None:
    full = config()
    full["datasets"]["tiny"]["synthetic"]["directions"] = 2
    assert isinstance(parse(cls, spec_for(cls, full, WILDCARDS)), cls)


def test_an_absent_optional_key_is_left_out() -> None:
    full = config()
    del full["cmmp"]
    text = spec_for(specs.FusionBaselinesSpec, full, WILDCARDS)
    assert "fusion_weights" not in json.loads(text) and parse(specs.FusionBaselinesSpec, text).fusion_weights is None


def test_a_missing_required_key_names_it() -> None:
    full = config()
    del full["cma"]
    with pytest.raises(KeyError, match="cma.batch_size is missing"):
        spec_for(specs.CMASpec, full, WILDCARDS)


def test_a_wildcard_field_takes_the_jobs_wildcard() -> None:
    spec = parse(specs.CMASpec, spec_for(specs.CMASpec, config(), {**WILDCARDS, "iteration": "3"}))
    assert spec.iteration == 3


@dataclass(frozen=True)
class Inner:
    odd: tuple[float, float]


@dataclass(frozen=True)
class Outer:
    name: str = key("a.name")
    count: int = key("a.count")
    on: bool = key("a.on")
    steps: list[float] = key("a.steps")
    inner: Inner = key("a.inner")
    optional: int | None = key("b.optional")


def test_parse_builds_nested_typed_values() -> None:
    spec = parse(Outer, '{"name": "a", "count": 2.0, "on": true, "steps": [1, 2.5], "inner": {"odd": [5, 1]}}')
    assert spec == Outer("a", 2, True, [1.0, 2.5], Inner((5.0, 1.0)), None)
    assert isinstance(spec.count, int) and isinstance(spec.inner.odd[0], float)


@pytest.mark.parametrize("data, message", [
    ({"count": 1, "on": True, "steps": [], "inner": {"odd": [1, 1]}}, "name: missing"),
    ({"name": "a", "count": 1, "on": True, "steps": [], "inner": {"odd": [1, 1]}, "extra": 1},
     "unknown key\\(s\\) extra"),
    ({"name": "a", "count": 1.5, "on": True, "steps": [], "inner": {"odd": [1, 1]}}, "count: expected an integer"),
    ({"name": "a", "count": 1, "on": 1, "steps": [], "inner": {"odd": [1, 1]}}, "on: expected true or false"),
    ({"name": "a", "count": 1, "on": True, "steps": [], "inner": {"odd": [1]}}, "inner.odd: expected 2 values"),
    ({"name": "a", "count": 1, "on": True, "steps": ["x"], "inner": {"odd": [1, 1]}}, "steps\\[0\\]: expected a number"),
])
def test_parse_names_the_bad_key(data, message) -> None:
    with pytest.raises(SpecError, match=message):
        parse(Outer, json.dumps(data))


def test_a_schedule_gives_epochs_or_steps() -> None:
    spec = parse(specs.StreamSpec, training(specs.StreamSpec, {"lr": 0.1, "steps": 7}))
    assert spec.schedule == specs.Schedule(lr=0.1, epochs=None, steps=7, milestones=[], weight_decay=5e-4,
                                           momentum=0.9, clip_grad=0.0, plateau_patience=0)


def test_a_command_rejects_a_bad_spec_before_running(tmp_path, capsys) -> None:
    spec = json.loads(training(specs.StreamSpec, {"lr": 0.1, "epochs": 1}))
    del spec["depth"]
    args = ["--index", "x.csv", "--split", "1", "--threads", "1", "--out", str(tmp_path / "m.pt")]
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--kind", "stream", "--spec", json.dumps(spec), *args])
    assert exit_.value.code == 2
    assert "argument --spec: invalid StreamSpec: depth: missing" in capsys.readouterr().err
    assert not (tmp_path / "m.pt").exists()
