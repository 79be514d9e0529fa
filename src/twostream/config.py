"""The configuration as the workflow and ``twostream plan`` read it: checked against the schema with one line per
problem, the schema's defaults filled in, and the datasets switched off (``enabled: false``) dropped.

A typo is one line that names the key and the closest known one (``unknown key 'chunk_sise' in flow; did you
mean 'chunk_size'?``); the validator's full report, with the schema, only where ``TWOSTREAM_SCHEMA_REPORT=1``
is set. Checks the schema cannot express (files, folders, GPUs) are ``twostream.config_check``'s.
"""

from __future__ import annotations

import difflib
import functools
import os
import sys
from collections.abc import Iterable, Mapping, MutableMapping
from pathlib import Path
from typing import Any

import yaml

from twostream.specs import SCHEMA

REPORT_VARIABLE = "TWOSTREAM_SCHEMA_REPORT"


class ConfigError(Exception):
    """Config problems, one per line."""


@functools.cache
def schema() -> dict:
    return yaml.safe_load(SCHEMA.read_text())


def _validator(fill_defaults: bool) -> Any:
    from jsonschema import Draft202012Validator, validators

    if not fill_defaults:
        return Draft202012Validator(schema())
    properties = Draft202012Validator.VALIDATORS["properties"]

    def set_defaults(validator: Any, props: dict, instance: Any, subschema: dict) -> Iterable[Any]:
        if isinstance(instance, dict):
            for name, sub in props.items():
                if "default" in sub:
                    instance.setdefault(name, sub["default"])
        yield from properties(validator, props, instance, subschema)

    return validators.extend(Draft202012Validator, {"properties": set_defaults})(schema())


def _where(path: Iterable[Any]) -> str:
    return ".".join(str(p) for p in path)


def _closest(word: Any, known: Iterable[Any]) -> str | None:
    close = difflib.get_close_matches(str(word), [str(k) for k in known], n=1, cutoff=0.6)
    return close[0] if close else None


def _suggest(word: Any, known: Iterable[Any]) -> str:
    close = _closest(word, known)
    return f"; did you mean {close!r}?" if close else ""


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _typos(error: Any) -> list[tuple[str, str | None]]:
    """(unknown key, the known key it is closest to) of an ``additionalProperties`` error."""
    known = error.schema.get("properties", {})
    return [(key, _closest(key, known)) for key in error.instance if key not in known]


def _lines(error: Any, meant: set[tuple[str, str]]) -> list[str]:
    """One line per problem a schema error stands for (a missing key in ``meant``, (where, key), is a typo's)."""
    where = _where(error.absolute_path)
    inside = f"in {where}" if where else "at the top level"
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        return [f"unknown key {key!r} {inside}" + (f"; did you mean {close!r}?" if close else "")
                for key, close in _typos(error)]
    if error.validator == "required":
        missing = [k for k in error.validator_value if k not in error.instance and (where, k) not in meant]
        return [f"missing key {key!r} {inside}" for key in missing]
    if error.validator == "enum":
        options = [str(o) for o in error.validator_value]
        return [f"{where}: {_short(error.instance)} is not one of {', '.join(options)}{_suggest(error.instance, options)}"]
    if error.validator == "oneOf" and all(set(o) == {"required"} for o in error.validator_value):
        keys = " or ".join(k for o in error.validator_value for k in o["required"])
        both = "is valid under each" in error.message
        return [f"{where}: give {keys}, {'not both' if both else 'one of them'}"]
    message = error.message.replace(repr(error.instance), _short(error.instance))
    return [f"{where}: {message}" if where else message]


def problems(config: Any) -> list[str]:
    """Every schema problem of a config, one line each, by key path; a required key that a typo misses is the
    typo's line only (``unknown key 'chunk_sise' in flow; did you mean 'chunk_size'?``)."""
    errors = sorted(_validator(False).iter_errors(config),
                    key=lambda e: ([str(p) for p in e.absolute_path], e.validator == "required"))
    meant = {(_where(e.absolute_path), close) for e in errors
             if e.validator == "additionalProperties" and isinstance(e.instance, dict) for _, close in _typos(e)}
    return list(dict.fromkeys(line for e in errors for line in _lines(e, meant)))


def full_report(config: Any) -> str:
    """The validator's own report of every error (with the parts of the schema they concern)."""
    return "\n\n".join(str(e) for e in _validator(False).iter_errors(config))


def _resolve(node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        node = schema()["$defs"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def _scalar(text: str, node: dict) -> Any:
    """``text`` as the scalar type ``node`` asks for, where it reads as one; else ``text``."""
    kind = node.get("type")
    if kind == "boolean" and text.lower() in ("true", "false"):
        return text.lower() == "true"
    try:
        if kind == "integer":
            return int(text)
        if kind == "number":
            return float(text) if not text.lstrip("-").isdigit() else int(text)
    except ValueError:
        pass
    return text


def coerce(value: Any, node: Any = None) -> Any:
    """``value`` with the strings that Snakemake's ``--config`` makes of nested scalars (its YAML loader reads
    ``{enabled: false}`` as ``{'enabled': 'false'}``) turned into the types the schema asks for."""
    node = _resolve(schema() if node is None else node)
    if not isinstance(node, dict):
        return value
    if isinstance(value, dict):
        props, extra = node.get("properties", {}), node.get("additionalProperties")
        return {k: coerce(v, props.get(k, extra if isinstance(extra, dict) else None)) for k, v in value.items()}
    if isinstance(value, list) and isinstance(node.get("items"), dict):
        return [coerce(v, node["items"]) for v in value]
    if isinstance(value, str):
        for option in node.get("oneOf", [node]):
            option = _resolve(option)
            if option.get("type") == "array":
                continue
            converted = _scalar(value, option)
            if converted is not value:
                return converted
    return value


def prepare(config: MutableMapping[str, Any]) -> None:
    """Check ``config`` against the schema, fill in its defaults and drop the datasets switched off, in place.

    Strings where the schema asks for a number or a boolean (Snakemake's ``--config`` makes them of nested
    values) are read as such first. ConfigError (one line per problem) if the schema refuses it or no dataset
    is left.
    """
    config.update(coerce(dict(config)))
    found = problems(config)
    if found:
        if os.environ.get(REPORT_VARIABLE):
            found.append(full_report(config))
        else:
            found.append(f"(each key and its description: {SCHEMA.relative_to(SCHEMA.parents[2])}; the validator's"
                         f" full report: {REPORT_VARIABLE}=1)")
        raise ConfigError("\n".join(found))
    _validator(True).validate(config)
    datasets = config["datasets"]
    off = [name for name, d in datasets.items() if not d["enabled"]]
    for name in off:
        del datasets[name]
    if not datasets:
        raise ConfigError(f"every dataset is switched off (enabled: false): {', '.join(off)}")


def prepare_or_exit(config: MutableMapping[str, Any]) -> None:
    """For the Snakefile: ``prepare``, or print its problems (``config error: ...``, one line each) and stop."""
    try:
        prepare(config)
    except ConfigError as e:
        lines = str(e).splitlines()
        print("\n".join(line if line.startswith("(") else f"config error: {line}" for line in lines), file=sys.stderr)
        raise SystemExit(1) from None


def _update(config: dict, items: Mapping[str, Any]) -> None:
    """Merge ``items`` into ``config``, nested mappings key by key (as Snakemake merges --config)."""
    for key, value in items.items():
        if isinstance(value, Mapping) and isinstance(config.get(key), dict):
            _update(config[key], value)
        else:
            config[key] = value


def load(configfile: str | os.PathLike, overrides: Iterable[str] = ()) -> dict[str, Any]:
    """A config file with Snakemake-style ``--config`` items (``KEY=YAML``) merged in, prepared (``prepare``)."""
    try:
        config = yaml.safe_load(Path(configfile).read_text())
    except OSError as e:
        raise ConfigError(f"{configfile}: {e.strerror}") from None
    if not isinstance(config, dict):
        raise ConfigError(f"{configfile}: not a YAML mapping of config keys")
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"--config {item!r}: expected KEY=VALUE")
        _update(config, {key: yaml.safe_load(value)})
    prepare(config)
    return config
