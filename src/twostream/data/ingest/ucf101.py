"""UCF-101: videos in ``root/<Class>/``; official ``classInd.txt``, ``trainlist0k.txt``, ``testlist0k.txt``.

An optional ``vallist0k.txt`` (not in the official release; the embedded dataset writes one) lists
validation videos of split k (role ``val``), read like a test list.

List lines are ``<Class>/<video>.avi [<1-based label>]`` (CRLF in the official files; any whitespace before
the label; the video name may contain spaces; ``\\`` is read as ``/``); a label, where given, must agree with
``classInd.txt``. A video is matched by its stem, with any video extension. Files are read as ``read_lines``
reads them (UTF-8 with or without a BOM; other encodings where unambiguous, with a warning).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

from twostream.data.ingest.common import (
    TEST,
    TRAIN,
    VAL,
    VIDEO_EXTENSIONS,
    Catalog,
    Failures,
    IngestError,
    existing_dir,
    existing_file,
    read_lines,
    tell,
)

N_SPLITS = 3
LABELLED = re.compile(r"(?P<path>.*\S)\s+(?P<label>\d+)")  # any whitespace before the label


def read(root: Path, splits_dir: str | os.PathLike, failures: Failures, splits: Sequence[int]) -> Catalog:
    """Catalog of the official splits; labels follow ``classInd.txt`` (index - 1).

    The train and test lists of ``splits`` (1-based) are required; the other splits' lists are read where present.
    """
    splits_dir = existing_dir(splits_dir, "UCF-101 split folder")
    class_index = existing_file(splits_dir / "classInd.txt", "UCF-101 class index")
    lists = []
    for k in range(N_SPLITS):
        for role in (TRAIN, TEST, VAL):
            path = splits_dir / f"{role}list{k + 1:02d}.txt"
            if role != VAL and k + 1 in splits:
                lists.append((k, role, existing_file(path, "UCF-101 split file")))
            elif path.is_file():
                lists.append((k, role, path))
    catalog = Catalog(_read_class_index(class_index, failures), N_SPLITS, failures)
    for k, role, path in sorted(lists, key=lambda item: (item[0], (TRAIN, TEST, VAL).index(item[1]))):
        _read_list(catalog, root, path, k, role)
    return catalog


def _read_class_index(path: Path, failures: Failures) -> list[str]:
    """Class names in label order from lines ``<index> <Class>``; IngestError unless indices are 1..N.

    A class named twice keeps its first index (one line and a failures row name the repeat; its index has no class).
    """
    entries = []
    for number, text in read_lines(path, failures):
        parts = text.split(maxsplit=1)
        if len(parts) != 2 or not parts[0].isdigit():
            raise IngestError(f"{path}:{number}: malformed class index line {text!r}: expected '<index> <Class>'")
        entries.append((int(parts[0]), parts[1].strip(), number))
    if sorted(index for index, _, _ in entries) != list(range(1, len(entries) + 1)):
        raise IngestError(f"{path}: class indices are not 1..{len(entries)} (each once)")
    first: dict[str, tuple[int, int]] = {}
    for index, name, number in sorted(entries):
        if name in first:
            failures.note(f"{path}:{number}", f"class {name!r} listed again as {index} (first as {first[name][0]} on "
                                             f"line {first[name][1]}): its videos keep label {first[name][0]}, "
                                             f"index {index} has no class")
        else:
            first[name] = (index, number)
    return [name for _, name, _ in sorted(entries)]


def _read_list(catalog: Catalog, root: Path, path: Path, split: int, role: str) -> None:
    """Add the lines ``<Class>/<video> [<label>]`` of one split list to the catalog."""
    index: dict[str, int] = {}
    for i, name in enumerate(catalog.classes):
        index.setdefault(name, i + 1)
    for number, text in read_lines(path, catalog.failures):
        where = f"{path}:{number}"
        name, label = _split_label(text)
        parts = name.replace("\\", "/").split("/")
        if len(parts) != 2 or not all(parts) or os.path.splitext(name)[1].lower() not in VIDEO_EXTENSIONS:
            catalog.failures.add(where, f"malformed line {text!r}: expected '<Class>/<video> [<label>]'")
            continue
        class_name, video_id = parts[0], os.path.splitext(parts[1])[0]
        catalog.mention(video_id)
        if class_name not in index:
            catalog.failures.add(video_id, f"unknown class {class_name!r} (not in classInd.txt; {where})")
            continue
        if label is not None and label != str(index[class_name]):
            catalog.failures.add(
                where,
                f"malformed line {text!r}: label {label} but classInd.txt gives {index[class_name]}",
            )
            continue
        catalog.assign(video_id, class_name, (root / class_name,), split, role, where)


def _split_label(text: str) -> tuple[str, str | None]:
    """``<Class>/<video> [<label>]`` -> (path, label or None); any whitespace separates the label, the path may
    contain spaces."""
    match = LABELLED.fullmatch(text.strip())
    if match:
        return match["path"], match["label"]
    return text.strip(), None
