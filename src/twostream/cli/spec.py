"""A command's configuration values as one typed spec: JSON (``--spec``) read into a frozen dataclass.

A rule hands a command exactly the config keys it uses, as one JSON object (so a config edit
re-runs exactly the rules that use the key); the command reads it into its spec dataclass. The
dataclasses declare no defaults: every default lives in the config schema, which Snakemake fills
in before any job runs. A field typed ``X | None`` may be absent (one of two alternatives, such as
``epochs`` or ``iterations``); every other field must be given, and unknown keys are errors.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import types
import typing
from typing import Any, TypeVar

T = TypeVar("T")


class SpecError(ValueError):
    """A spec that does not fit its dataclass; the message names the key and the reason."""


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
        item = args[0] if args else Any
        items = [_convert(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
        if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
            return tuple(items)
        if origin is tuple:
            if len(value) != len(args):
                raise SpecError(f"{where}: expected {len(args)} values, got {value!r}")
            return tuple(_convert(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, value)))
        return items
    if tp is Any:
        return value
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
    fields = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise SpecError(f"{where or 'spec'}: unknown key(s) {', '.join(unknown)}")
    values = {}
    for name in fields:
        key = f"{where}.{name}" if where else name
        optional = type(None) in typing.get_args(hints[name])
        if name not in data and not optional:
            raise SpecError(f"{key}: missing")
        values[name] = _convert(hints[name], data.get(name), key)
    return cls(**values)


def parse(cls: type[T], text: str | dict) -> T:
    """A spec dataclass from its JSON text (or the decoded object)."""
    data = json.loads(text) if isinstance(text, str) else text
    return _build(cls, data, "")


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
