"""``twostream index``: merge chunk indexes into the dataset's shard index and failures table.

Its summary line (videos ingested, in shards, failed in flow+pack, kept with a note, and the failures table)
goes to stdout, which the index rule shows on the console.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from twostream.data.index import merge_index
from twostream.data.ingest import read_manifest
from twostream.files import write_csv


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", required=True, help="the dataset's name (in the summary line)")
    p.add_argument("--manifest", required=True)
    p.add_argument("--ingest-failures", required=True)
    p.add_argument("--chunks", nargs="*", default=[], help="chunk index CSVs")
    p.add_argument("--out", required=True, help="shard index CSV")
    p.add_argument("--failures", required=True, help="all failures, by stage")
    p.add_argument("--stage", choices=("flow+pack", "import"), default="flow+pack",
                   help="what made the chunks: extraction (flow+pack) or a rawframes import")


def run(args: argparse.Namespace) -> int:
    read = lambda path: pd.read_csv(path, keep_default_na=False)  # noqa: E731
    chunks = {c: read(c) for c in args.chunks}
    manifest = read_manifest(args.manifest)
    index, failures = merge_index(manifest, chunks, read(args.ingest_failures), args.stage)
    write_csv(index, args.out)
    write_csv(failures, args.failures)
    print(summary(args.dataset, manifest, index, failures, args.failures), flush=True)
    removed = [c for c in args.chunks if not Path(c).exists()]  # had a corrupted shard (data.index)
    if removed:  # fail, so that Snakemake drops these outputs and the next run re-extracts the chunks
        print(f"twostream index: error: corrupted shards removed with {', '.join(removed)}; run again to rebuild them",
              file=sys.stderr)
        return 1
    return 0


def summary(dataset: str, manifest: pd.DataFrame, index: pd.DataFrame, failures: pd.DataFrame, path: str) -> str:
    """The dataset's one summary line after flow and packing."""
    extracted = failures[failures["stage"] == "flow+pack"]
    noted = int(extracted["video"].isin(index["video_id"]).sum())
    return (f"dataset {dataset!r}: {len(index)} of {len(manifest)} ingested videos in shards "
            f"({len(manifest) - len(index)} failed in flow+pack, {noted} kept with a note); each in {path}")
