"""What the training and evaluation commands share: their run arguments and reading a ``--spec`` that
depends on another argument."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from twostream.specs import SpecError, parse


def add_run_arguments(p: argparse.ArgumentParser) -> None:
    """The paths and wildcards of a training or evaluation job (its config values come in ``--spec``)."""
    p.add_argument("--index", required=True, help="shard index CSV of the dataset")
    p.add_argument("--split", type=int, required=True, help="official split")
    p.add_argument("--threads", type=int, required=True, help="torch CPU threads of the job (0: torch's default)")


def read_spec(cls: type, text: str) -> Any:
    """``--spec`` read into ``cls``; a bad spec exits with status 2 and one line, as argparse errors do."""
    try:
        return parse(cls, text)
    except (json.JSONDecodeError, SpecError) as e:
        print(f"twostream: error: argument --spec: invalid {cls.__name__}: {e}", file=sys.stderr)
        raise SystemExit(2) from None
