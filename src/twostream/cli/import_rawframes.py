"""``twostream import-rawframes``: pack one chunk of a rawframes dataset's folders into shards (no flow computed)."""

from __future__ import annotations

import argparse
import json

from twostream.data.extract import chunk_rows
from twostream.data.ingest import read_manifest
from twostream.data.rawframes.importer import Source, import_chunk
from twostream.data.rawframes.templates import Naming
from twostream.files import write_csv
from twostream.specs import ImportSpec, add_spec
from twostream.workflow import command_version


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_spec(p, ImportSpec)
    p.add_argument("--manifest", required=True, help="manifest of the folders (`twostream ingest --rawframes`)")
    p.add_argument("--naming", required=True, help="their naming (JSON, `twostream ingest --rawframes`)")
    p.add_argument("--chunk", type=int, required=True, help="chunk number (0-based)")
    p.add_argument("--shards", required=True, help="folder for the per-video shards")
    p.add_argument("--out", required=True, help="chunk index CSV")


def run(args: argparse.Namespace) -> int:
    spec: ImportSpec = args.spec
    with open(args.naming) as f:
        naming = Naming.from_description(json.load(f))
    source = Source(naming, spec.rawframes.encoding, spec.rawframes.bound)
    rows = chunk_rows(read_manifest(args.manifest), args.chunk, spec.chunk_size)
    index = import_chunk(rows, args.shards, source, bound=spec.bound, quality=spec.jpeg_quality, length=spec.length,
                         code=command_version("import-rawframes"))
    write_csv(index, args.out)
    return 0
