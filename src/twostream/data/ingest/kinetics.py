"""Kinetics-400: official CSVs ``label,youtube_id,time_start,time_end,split``.

A row's video is ``<youtube_id>_<time_start:06d>_<time_end:06d>.<ext>``, in ``root/<label>/``,
``root/<label with spaces as underscores>/`` or flat in ``root``. The class index is the sorted
labels. One split: ``train`` rows train, ``val``/``validate`` rows test (papers report on
validation); ``test`` rows carry no label and are skipped. The CSVs are read as ``decode_text`` reads them
(UTF-8 with or without a BOM; other encodings where unambiguous, with a warning), CRLF or LF, separated by
commas, semicolons or tabs (as a spreadsheet may save them); column names are matched without case or spaces.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

from twostream.data.ingest.common import TEST, TRAIN, Catalog, Failures, IngestError, decode_text, existing_file

ROLES = {"train": TRAIN, "val": TEST, "validate": TEST, "test": None}
COLUMNS = ("youtube_id", "time_start", "time_end", "split")


def read(root: Path, annotations: Sequence[str | os.PathLike], failures: Failures) -> Catalog:
    """Catalog of the one train/validation split of the given annotation CSVs."""
    if not annotations:
        raise IngestError("Kinetics needs at least one annotation CSV")
    paths = [existing_file(path, "Kinetics annotation CSV") for path in annotations]
    rows = [row for path in paths for row in _read_csv(path, failures)]
    catalog = Catalog(sorted({label for _, label, _, role in rows if role is not None}), 1, failures,
                      source="annotation CSV")
    for where, label, video_id, role in rows:
        if role is None:
            catalog.mention(video_id)
        else:
            catalog.assign(video_id, label, _folders(root, label), 0, role, where)
    return catalog


def _read_csv(path: Path, failures: Failures) -> Iterator[tuple[str, str, str, str | None]]:
    """(where, label, video id, role) of the rows (role None: an unlabelled test row)."""
    text = decode_text(path, failures)
    try:
        dialect = csv.Sniffer().sniff(text.split("\n", 1)[0], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(io.StringIO(text, newline=""), dialect=dialect)
    reader.fieldnames = [name.strip().lower().replace(" ", "_") for name in reader.fieldnames or []]
    missing = [c for c in COLUMNS if c not in reader.fieldnames]
    if missing:
        raise IngestError(f"Kinetics annotation CSV lacks columns {', '.join(missing)}: {path}")
    for row in reader:
        where = f"{path}:{reader.line_num}"
        try:
            yield (where, *_parse_row(row))
        except ValueError as e:
            failures.add(where, f"malformed row: {e}")


def _parse_row(row: dict[str, str | None]) -> tuple[str, str, str | None]:
    """(label, video id, role; None for an unlabelled test row); ValueError names the problem."""
    field = {key: (value or "").strip() for key, value in row.items() if key is not None}
    if field["split"] not in ROLES:
        raise ValueError(f"split {field['split']!r} is not one of {', '.join(ROLES)}")
    role = ROLES[field["split"]]
    if role is not None and not field.get("label"):
        raise ValueError("empty label")
    if not field["youtube_id"]:
        raise ValueError("empty youtube_id")
    try:
        start, end = int(field["time_start"]), int(field["time_end"])
    except ValueError:
        raise ValueError(f"times {field['time_start']!r}, {field['time_end']!r} are not integers") from None
    return field.get("label", ""), f"{field['youtube_id']}_{start:06d}_{end:06d}", role


def _folders(root: Path, label: str) -> tuple[Path, ...]:
    """Where a video of class ``label`` may lie (class folder as in the CSV or with underscores, or flat)."""
    return tuple(dict.fromkeys([root / label, root / label.replace(" ", "_"), root]))
