"""``twostream table``: the two-stream results table (RGB, flow, fused; top-1 / top-5 per split)."""

from __future__ import annotations

import argparse

import pandas as pd

from twostream.eval.metrics import ratio
from twostream.eval.tables import test_note, two_stream_rows, with_mean, write_table
from twostream.specs import TwoStreamTableSpec, add_spec


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_spec(p, TwoStreamTableSpec)
    p.add_argument("--dataset", required=True)
    p.add_argument("--splits", type=int, nargs="+", required=True)
    p.add_argument("--rgb", nargs="+", required=True, help="RGB score files, one per split")
    p.add_argument("--flow", nargs="+", required=True, help="flow score files, one per split")
    p.add_argument("--out", required=True, help="table CSV (Markdown written beside it)")


def run(args: argparse.Namespace) -> int:
    spec: TwoStreamTableSpec = args.spec
    if not len(args.splits) == len(args.rgb) == len(args.flow):
        raise SystemExit("give one RGB and one flow score file per split")
    rows = [r for k, a, b in zip(args.splits, args.rgb, args.flow) for r in two_stream_rows(a, b, k, spec.two_stream_weights)]
    df = with_mean(pd.DataFrame(rows), "stream")
    note = f"Fusion weights RGB:flow = {ratio(spec.two_stream_weights)}. {test_note(spec)}"
    write_table(df, args.out, f"Two-stream baseline on {args.dataset}", note)
    print(df.to_string(index=False))
    return 0
