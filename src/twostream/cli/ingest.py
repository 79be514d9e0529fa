"""``twostream ingest``: write a dataset's manifest and failures tables from its official files.

With ``--rawframes NAMING``, the root holds rawframes folders (one per video) in place of video files:
their naming (templates and first numbers, detected where not given) is written to NAMING as JSON, for
``twostream import-rawframes``.

Its summary line (listed, used, failed, skipped videos and the failures table) goes to stdout, which the
ingest rule shows on the console; every other line goes to stderr (the rule's log).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from twostream import specs
from twostream.data.ingest import KINDS, IngestError, ingest
from twostream.data.ingest.subset import from_arguments
from twostream.data.rawframes.catalog import rawframes_manifest
from twostream.data.rawframes.naming import RawframesError
from twostream.files import write_csv, write_text


EXAMPLES = """examples:
  twostream ingest --kind ucf101 --root /data/UCF-101 --splits-dir /data/ucfTrainTestlist --splits 1 \\
      --out manifest.csv --failures failures.csv
  twostream ingest --kind ucf101 --root /data/UCF-101 --splits-dir /data/ucfTrainTestlist --splits 1 \\
      --classes 5 --per-class 10 --out trial.csv --failures trial_failures.csv    # a trial: 5 classes
  twostream ingest --kind folder --root my_videos/ --seed 0 --test-fraction 0.3 --out manifest.csv \\
      --failures failures.csv                                                     # root/<class>/<video>
  twostream ingest --kind ucf101 --root /data/ucf101/rawframes --splits-dir /data/ucfTrainTestlist \\
      --rawframes naming.json --out manifest.csv --failures failures.csv          # rawframes folders

The workflow runs it for every configured dataset (datasets.<d>: kind, source, root, splits_dir, lists, splits,
subset, rawframes)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kind", required=True, choices=KINDS, help="dataset layout")
    parser.add_argument("--root", required=True, help="folder holding the videos (or rawframes folders)")
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
    parser.add_argument("--lists", nargs=2, action="append", metavar=("TRAIN", "VAL"),
                        help="mmaction2 file lists of one split (mmaction2; once per split)")
    parser.add_argument("--classes-file", help="classes file of the lists (mmaction2; optional)")
    parser.add_argument("--rawframes", metavar="NAMING",
                        help="the root holds rawframes folders: write their naming (JSON) here")
    parser.add_argument("--rgb-tmpl", help="rawframes: the frames' filename_tmpl (default: detected)")
    parser.add_argument("--flow-tmpl", help="rawframes: the flow's filename_tmpl, axis then number (default: detected)")
    parser.add_argument("--start-index", type=int, help="rawframes: the first frame number (default: detected)")
    parser.add_argument("--workers", type=int, default=1, help="processes probing videos")
    parser.add_argument("--out", required=True, help="manifest CSV to write")
    parser.add_argument("--failures", required=True, help="failures CSV to write (always written)")


def summary(dataset: str, counts: dict[str, int], failures: str) -> str:
    """The dataset's one summary line after ingest."""
    return (f"dataset {dataset!r}: {counts['listed']} videos listed, {counts['used']} used, {counts['failed']} "
            f"failed, {counts['skipped']} skipped; each in {failures}")


def run(args: argparse.Namespace) -> int:
    split_files = {"splits_dir": args.splits_dir, "annotations": args.annotations, "lists": args.lists,
                   "classes": args.classes_file}
    naming_keys = (args.rgb_tmpl, args.flow_tmpl, args.start_index)
    dataset = args.dataset or Path(args.root).name
    try:
        subset = from_arguments(args.classes, args.per_class)
        if args.rawframes is None and naming_keys != (None, None, None):
            raise IngestError("--rgb-tmpl, --flow-tmpl and --start-index are for --rawframes")
        if args.rawframes is not None:
            manifest, failures, naming = rawframes_manifest(
                args.kind, args.root, rgb=args.rgb_tmpl, flow=args.flow_tmpl, start=args.start_index,
                seed=args.seed, test_fraction=args.test_fraction, splits=args.splits, subset=subset,
                min_present=args.min_present, **split_files)
        else:
            manifest, failures = ingest(
                args.kind,
                args.root,
                splits=args.splits,
                subset=subset,
                seed=args.seed,
                test_fraction=args.test_fraction,
                min_present=args.min_present,
                workers=args.workers,
                aliases=Path(args.out).parent / "aliases",  # safe-named links to names OpenCV cannot take
                **split_files,
            )
    except (IngestError, RawframesError) as e:
        print(f"twostream ingest: error: dataset {dataset!r}: {e}", file=sys.stderr)
        return 2
    if args.rawframes is not None:
        write_text(json.dumps(naming.describe(), indent=1) + "\n", args.rawframes)
        print(f"rawframes named {naming.rgb.text!r} (from {naming.rgb_start}), flow {naming.flow.text!r} "
              f"(from {naming.flow_start}, axes {'/'.join(naming.flow.axes)}) -> {args.rawframes}", file=sys.stderr)
    write_csv(manifest, args.out)
    write_csv(failures, args.failures)
    print(summary(dataset, failures.attrs["counts"], args.failures), flush=True)
    return 0
