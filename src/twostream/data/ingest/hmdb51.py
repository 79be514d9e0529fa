"""HMDB-51: videos in ``root/<class>/``; official ``testTrainMulti_7030_splits`` files.

Each ``<class>_test_split<k>.txt`` line is ``<video>.avi <0|1|2>`` (1 train, 2 test, 0 unused in
split k; any whitespace separates the two). The class index is the order of ``class_list.txt`` when the split
folder has one, else the sorted class names of the split files. A class must have the split files of the
configured splits (the others are read where present); a class folder with no split files at all (the
official release has no ``class_list.txt``) is a class with videos but no split lines: one line, and its videos
in the failures table. Split files name ``.avi`` videos; a video is matched by
its stem, so re-encoded copies (``.mp4`` ...) are found as well.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

from twostream.data.ingest.common import (
    TEST,
    TRAIN,
    UNUSED,
    Catalog,
    Failures,
    IngestError,
    existing_dir,
    read_lines,
)

N_SPLITS = 3
ROLES = {"0": UNUSED, "1": TRAIN, "2": TEST}
SPLIT_FILE = re.compile(r"(?P<class_name>.+)_test_split[1-3]\.txt")
LINE = re.compile(r"(?P<video>.*\S)\s+(?P<role>\S+)")


def read(root: Path, splits_dir: str | os.PathLike, failures: Failures, splits: Sequence[int]) -> Catalog:
    """Catalog of the official splits; split files of classes not in ``class_list.txt`` are failures.

    Each class needs its split files of ``splits`` (1-based); IngestError names the first one missing.
    """
    splits_dir = existing_dir(splits_dir, "HMDB-51 split folder")
    named = sorted({m["class_name"] for name in os.listdir(splits_dir) if (m := SPLIT_FILE.fullmatch(name))})
    class_list = splits_dir / "class_list.txt"
    classes = [text for _, text in read_lines(class_list, failures)] if class_list.is_file() else named
    if not classes:
        raise IngestError(f"no <class>_test_split<k>.txt files in HMDB-51 split folder: {splits_dir}")
    split_files = {class_name: _split_files(splits_dir, class_name, splits) for class_name in classes}
    for class_name in sorted(set(named) - set(classes)):
        for k in range(N_SPLITS):
            path = _split_file(splits_dir, class_name, k)
            if path.is_file():
                failures.note(str(path), f"unknown class {class_name!r} (not in class_list.txt); file skipped")
    catalog = Catalog(classes, N_SPLITS, failures)
    for class_name, paths in split_files.items():
        for k, path in paths:
            _read_split_file(catalog, root / class_name, class_name, path, k)
    return catalog


def _split_file(splits_dir: Path, class_name: str, split: int) -> Path:
    return splits_dir / f"{class_name}_test_split{split + 1}.txt"


def _split_files(splits_dir: Path, class_name: str, splits: Sequence[int]) -> list[tuple[int, Path]]:
    """(0-based split, path) of a class's split files: those of ``splits`` required, the others where present."""
    files = []
    for k in range(N_SPLITS):
        path = _split_file(splits_dir, class_name, k)
        if path.is_file():
            files.append((k, path))
        elif k + 1 in splits:
            raise IngestError(f"HMDB-51 split file not found: {path} (class {class_name!r}, split {k + 1})")
    return files


def _read_split_file(catalog: Catalog, folder: Path, class_name: str, path: Path, split: int) -> None:
    for number, text in read_lines(path, catalog.failures):
        where = f"{path}:{number}"
        match = LINE.fullmatch(text)
        if match is None or match["role"] not in ROLES:
            catalog.failures.add(where, f"malformed line {text!r}: expected '<video> <0|1|2>'")
            continue
        video_id = os.path.splitext(match["video"])[0]
        if ROLES[match["role"]]:
            catalog.assign(video_id, class_name, (folder,), split, ROLES[match["role"]], where)
        else:
            catalog.mention(video_id)
