"""``twostream ingest``: write a dataset's manifest and failures tables from its official files.

Its summary line (listed, used, failed, skipped videos and the failures table) goes to stdout, which the
ingest rule shows on the console; every other line goes to stderr (the rule's log).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from twostream import specs
from twostream.data.ingest import KINDS, IngestError, ingest
from twostream.files import write_csv


def add_arguments(parser: argparse.ArgumentParser) -> None:
    specs.add_spec(parser, specs.IngestSpec)
    parser.add_argument("--kind", required=True, choices=KINDS, help="dataset layout")
    parser.add_argument("--root", required=True, help="folder holding the videos")
    parser.add_argument("--splits", help="official split folder (ucf101, hmdb51)")
    parser.add_argument(
        "--annotations", nargs="+", metavar="CSV", help="official annotation CSVs (kinetics400)"
    )
    parser.add_argument("--workers", type=int, default=1, help="processes probing videos")
    parser.add_argument("--out", required=True, help="manifest CSV to write")
    parser.add_argument("--failures", required=True, help="failures CSV to write (always written)")


def summary(dataset: str, counts: dict[str, int], failures: str) -> str:
    """The dataset's one summary line after ingest."""
    return (f"dataset {dataset!r}: {counts['listed']} videos listed, {counts['used']} used, {counts['failed']} "
            f"failed, {counts['skipped']} skipped; each in {failures}")


def run(args: argparse.Namespace) -> int:
    spec: specs.IngestSpec = args.spec
    try:
        manifest, failures = ingest(
            args.kind,
            args.root,
            splits_dir=args.splits,
            annotations=args.annotations,
            seed=spec.seed,
            test_fraction=spec.test_fraction,
            splits=spec.splits,
            min_present=spec.min_present,
            workers=args.workers,
            aliases=Path(args.out).parent / "aliases",  # safe-named links to names OpenCV cannot take
        )
    except IngestError as e:
        print(f"twostream ingest: error: dataset {spec.dataset!r}: {e}", file=sys.stderr)
        return 2
    write_csv(manifest, args.out)
    write_csv(failures, args.failures)
    print(summary(spec.dataset, failures.attrs["counts"], args.failures), flush=True)
    return 0
