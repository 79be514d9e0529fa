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
from twostream.data.ingest.subset import from_arguments
from twostream.files import write_csv


EXAMPLES = """examples:
  twostream ingest --kind ucf101 --root /data/UCF-101 --splits-dir /data/ucfTrainTestlist --splits 1 \\
      --out manifest.csv --failures failures.csv
  twostream ingest --kind ucf101 --root /data/UCF-101 --splits-dir /data/ucfTrainTestlist --splits 1 \\
      --classes 5 --per-class 10 --out trial.csv --failures trial_failures.csv    # a trial: 5 classes
  twostream ingest --kind folder --root my_videos/ --seed 0 --test-fraction 0.3 --out manifest.csv \\
      --failures failures.csv                                                     # root/<class>/<video>

The workflow runs it for every configured dataset (datasets.<d>: kind, root, splits_dir, splits, subset)."""

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kind", required=True, choices=KINDS, help="dataset layout")
    parser.add_argument("--root", required=True, help="folder holding the videos")
    parser.add_argument("--splits-dir", help="official split folder (ucf101, hmdb51)")
    parser.add_argument("--splits", type=int, nargs="+", metavar="K",
                        help="the splits used (1-based; their official files must exist; default: every split)")
    parser.add_argument("--classes", nargs="+", metavar="N|NAME",
                        help="a trial: the first N classes, or these classes (config: subset.classes)")
    parser.add_argument("--per-class", type=int, metavar="M",
                        help="a trial: at most M training, test and validation videos per class and split "
                             "(config: subset.per_class)")
    parser.add_argument(
        "--annotations", nargs="+", metavar="CSV", help="official annotation CSVs (kinetics400)"
    )
    parser.add_argument("--seed", type=int, help="seed of the train/test draw (folder kind; config: seed)")
    parser.add_argument("--test-fraction", type=float, default=specs.schema_default("datasets.{dataset}.test_fraction"),
                        help="share of each class for test (folder; config: test_fraction)")
    parser.add_argument("--min-present", type=float, default=specs.schema_default("datasets.{dataset}.min_present"),
                        help="stop unless this share of the listed videos is found (0: no check; config: min_present)")
    parser.add_argument("--dataset", help="the dataset's name in the summary line (default: the root's folder name)")
    parser.add_argument("--workers", type=int, default=1, help="processes probing videos")
    parser.add_argument("--out", required=True, help="manifest CSV to write")
    parser.add_argument("--failures", required=True, help="failures CSV to write (always written)")


def summary(dataset: str, counts: dict[str, int], failures: str) -> str:
    """The dataset's one summary line after ingest."""
    return (f"dataset {dataset!r}: {counts['listed']} videos listed, {counts['used']} used, {counts['failed']} "
            f"failed, {counts['skipped']} skipped; each in {failures}")


def run(args: argparse.Namespace) -> int:
    dataset = args.dataset or Path(args.root).name
    try:
        manifest, failures = ingest(
            args.kind,
            args.root,
            splits_dir=args.splits_dir,
            splits=args.splits,
            subset=from_arguments(args.classes, args.per_class),
            annotations=args.annotations,
            seed=args.seed,
            test_fraction=args.test_fraction,
            min_present=args.min_present,
            workers=args.workers,
            aliases=Path(args.out).parent / "aliases",  # safe-named links to names OpenCV cannot take
        )
    except IngestError as e:
        print(f"twostream ingest: error: dataset {dataset!r}: {e}", file=sys.stderr)
        return 2
    write_csv(manifest, args.out)
    write_csv(failures, args.failures)
    print(summary(dataset, failures.attrs["counts"], args.failures), flush=True)
    return 0
