"""``twostream summary``: gather a run's plan and Markdown tables into its summary.md (date, machine, intervals)."""

from __future__ import annotations

import argparse

from twostream.eval.summary import write_summary


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tables", nargs="+", required=True, help="Markdown files (the plan, tables), in the order shown")
    p.add_argument("--out", required=True, help="summary Markdown")


def run(args: argparse.Namespace) -> int:
    write_summary(args.tables, args.out)
    print(open(args.out).read())
    return 0
