"""HMDB-51: videos in ``root/<class>/``; official ``testTrainMulti_7030_splits`` files.

Each ``<class>_test_split<k>.txt`` line is ``<video>.avi <0|1|2>`` (1 train, 2 test, 0 unused in
split k). The class index is the order of ``class_list.txt`` when the split folder has one, else
the sorted class names of the split files. Split files name ``.avi`` videos; a video is matched by
its stem, so re-encoded copies (``.mp4`` ...) are found as well.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from twostream.data.ingest.common import (
    TEST,
    TRAIN,
    UNUSED,
    Catalog,
    Failures,
    IngestError,
    existing_dir,
    existing_file,
    read_lines,
)

N_SPLITS = 3
ROLES = {"0": UNUSED, "1": TRAIN, "2": TEST}
SPLIT_FILE = re.compile(r"(?P<class_name>.+)_test_split[1-3]\.txt")


def read(root: Path, splits_dir: str | os.PathLike, failures: Failures) -> Catalog:
    """Catalog of the three official splits; split files of classes not in ``class_list.txt`` are failures."""
    splits_dir = existing_dir(splits_dir, "HMDB-51 split folder")
    named = sorted({m["class_name"] for name in os.listdir(splits_dir) if (m := SPLIT_FILE.fullmatch(name))})
    class_list = splits_dir / "class_list.txt"
    classes = [text for _, text in read_lines(class_list)] if class_list.is_file() else named
    if not classes:
        raise IngestError(f"no <class>_test_split<k>.txt files in HMDB-51 split folder: {splits_dir}")
    split_files = {
        class_name: [
            existing_file(_split_file(splits_dir, class_name, k), "HMDB-51 split file")
            for k in range(N_SPLITS)
        ]
        for class_name in classes
    }
    for class_name in sorted(set(named) - set(classes)):
        for k in range(N_SPLITS):
            path = _split_file(splits_dir, class_name, k)
            if path.is_file():
                failures.add(str(path), f"unknown class {class_name!r} (not in class_list.txt); file skipped")
    catalog = Catalog(classes, N_SPLITS, failures)
    for class_name, paths in split_files.items():
        for k, path in enumerate(paths):
            _read_split_file(catalog, root / class_name, class_name, path, k)
    return catalog


def _split_file(splits_dir: Path, class_name: str, split: int) -> Path:
    return splits_dir / f"{class_name}_test_split{split + 1}.txt"


def _read_split_file(catalog: Catalog, folder: Path, class_name: str, path: Path, split: int) -> None:
    for number, text in read_lines(path):
        where = f"{path}:{number}"
        fields = text.split()
        if len(fields) != 2 or fields[1] not in ROLES:
            catalog.failures.add(where, f"malformed line {text!r}: expected '<video> <0|1|2>'")
        elif ROLES[fields[1]]:
            catalog.assign(
                os.path.splitext(fields[0])[0], class_name, (folder,), split, ROLES[fields[1]], where
            )
