"""The configuration as the workflow reads it: one line per schema problem (a typo names the closest key), the
defaults filled in, datasets switched off dropped (``enabled: false``)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from twostream.config import REPORT_VARIABLE, ConfigError, load, prepare, problems, schema

REPO = Path(__file__).resolve().parents[1]


def tiny() -> dict:
    return yaml.safe_load((REPO / "tests/workflow/tiny.yaml").read_text())


def test_a_typo_is_one_line_naming_the_closest_key() -> None:
    config = tiny()
    config["flow"]["chunk_sise"] = config["flow"].pop("chunk_size")
    config["flw"] = {}
    assert problems(config) == [
        "unknown key 'flw' at the top level; did you mean 'flow'?",
        "unknown key 'chunk_sise' in flow; did you mean 'chunk_size'?",  # and no line for the chunk_size it misses
    ]
    del config["flow"]["chunk_sise"]
    assert problems(config)[1] == "missing key 'chunk_size' in flow"


def test_other_problems_are_one_line_each_with_their_path() -> None:
    config = tiny()
    config["flow"]["backend"] = "torh"
    config["train"]["rgb"]["steps"] = 5  # and epochs
    config["datasets"]["tiny"]["size"] = [32]
    assert problems(config) == [
        "datasets.tiny.size: [32] is too short",
        "flow.backend: 'torh' is not one of auto, torch, opencv-cuda, opencv-cpu; did you mean 'torch'?",
        "train.rgb: give epochs or steps, not both",
    ]


def test_the_full_schema_report_only_on_request(monkeypatch) -> None:
    config = tiny()
    config["flow"]["chunk_sise"] = 3
    with pytest.raises(ConfigError) as short:
        prepare(config)
    lines = str(short.value).splitlines()
    assert lines[0] == "unknown key 'chunk_sise' in flow; did you mean 'chunk_size'?" and len(lines) == 2
    assert REPORT_VARIABLE in lines[1] and "config.schema.yaml" in lines[1]
    monkeypatch.setenv(REPORT_VARIABLE, "1")
    with pytest.raises(ConfigError) as full:
        prepare(config)
    assert str(full.value).startswith(lines[0]) and "On instance['flow']" in str(full.value)


def test_defaults_are_filled_in_and_datasets_switched_off_are_dropped() -> None:
    config = tiny()
    config["datasets"]["off"] = {"enabled": False}  # a dataset switched off needs no other key
    config["datasets"]["also_off"] = {**config["datasets"]["tiny"], "enabled": False, "crop": 1000}
    prepare(config)
    assert list(config["datasets"]) == ["tiny"]
    assert config["datasets"]["tiny"]["enabled"] is True and config["datasets"]["tiny"]["hflip"] is False
    assert config["flow"]["variant"] == "cpu" and config["train"]["rgb"]["momentum"] == 0.9


def test_every_dataset_switched_off_is_an_error() -> None:
    config = tiny()
    config["datasets"]["tiny"]["enabled"] = False
    with pytest.raises(ConfigError, match="every dataset is switched off"):
        prepare(config)


def test_load_merges_config_items_as_snakemake_does(tmp_path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(tiny()))
    config = load(path, ["datasets={tiny: {crop: 20}}", "seed=3"])
    assert config["datasets"]["tiny"]["crop"] == 20 and config["datasets"]["tiny"]["size"] == [32, 32]
    assert config["seed"] == 3
    with pytest.raises(ConfigError, match="every dataset is switched off"):
        load(path, ["datasets={tiny: {enabled: false}}"])


def _nulls(node, where: str = "") -> list[str]:
    if isinstance(node, dict):
        return [p for k, v in node.items() for p in ([f"{where}.{k}"] if v is None else _nulls(v, f"{where}.{k}"))]
    if isinstance(node, list):
        return [p for i, v in enumerate(node) for p in _nulls(v, f"{where}[{i}]")]
    return []


def test_the_schema_has_no_stray_keys() -> None:
    """An unquoted comma in a flow mapping makes a key with no value (once `'generated under data/<name>)': None`)."""
    assert _nulls(schema()) == []
    assert _nulls(yaml.safe_load((REPO / "config.yaml").read_text())) == []


def test_snakemakes_config_strings_are_read_as_the_schemas_types() -> None:
    """snakemake --config 'datasets={tiny: {enabled: false}}' gives 'false' (its YAML loader keeps nested scalars as
    strings): numbers and booleans where the schema asks for them are read as such."""
    from snakemake.cli import parse_config

    config = tiny()
    config["datasets"]["off"] = dict(config["datasets"]["tiny"])
    items = parse_config(["datasets={tiny: {crop: 20, size: [24, 24], subset: {classes: 2}}, off: {enabled: false}}",
                          "flow={bound: 15.5}"])
    assert items["datasets"]["off"]["enabled"] == "false"
    for key, value in items.items():
        config[key].update(value) if key != "datasets" else [config[key][d].update(v) for d, v in value.items()]
    prepare(config)
    assert list(config["datasets"]) == ["tiny"] and config["flow"]["bound"] == 15.5
    tiny_ = config["datasets"]["tiny"]
    assert (tiny_["crop"], tiny_["size"], tiny_["subset"]) == (20, [24, 24], {"classes": 2})
