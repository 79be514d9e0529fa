"""``twostream ingest``: write a dataset's manifest and failures tables from its official files."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from twostream.data.ingest import KINDS, IngestError, ingest
from twostream.files import write_csv


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kind", required=True, choices=KINDS, help="dataset layout")
    parser.add_argument("--root", required=True, help="folder holding the videos")
    parser.add_argument("--splits", help="official split folder (ucf101, hmdb51)")
    parser.add_argument(
        "--annotations", nargs="+", metavar="CSV", help="official annotation CSVs (kinetics400)"
    )
    parser.add_argument("--seed", type=int, help="seed of the train/test draw (folder; config: seed)")
    parser.add_argument(
        "--test-fraction", type=float, help="share of each class for test (folder; config: test_fraction)"
    )
    parser.add_argument("--workers", type=int, default=1, help="processes probing videos")
    parser.add_argument("--out", required=True, help="manifest CSV to write")
    parser.add_argument("--failures", required=True, help="failures CSV to write (always written)")


def run(args: argparse.Namespace) -> int:
    try:
        manifest, failures = ingest(
            args.kind,
            args.root,
            splits_dir=args.splits,
            annotations=args.annotations,
            seed=args.seed,
            test_fraction=args.test_fraction,
            workers=args.workers,
            aliases=Path(args.out).parent / "aliases",  # safe-named links to names OpenCV cannot take
        )
    except IngestError as e:
        print(f"twostream ingest: error: {e}", file=sys.stderr)
        return 2
    write_csv(manifest, args.out)
    write_csv(failures, args.failures)
    print(
        f"{len(manifest)} videos -> {args.out}; {len(failures)} failures -> {args.failures}", file=sys.stderr
    )
    return 0
