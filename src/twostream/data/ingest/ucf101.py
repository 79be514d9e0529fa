"""UCF-101: videos in ``root/<Class>/``; official ``classInd.txt``, ``trainlist0k.txt``, ``testlist0k.txt``.

An optional ``vallist0k.txt`` (not in the official release; the embedded dataset writes one) lists
validation videos of split k (role ``val``), read like a test list.

List lines are ``<Class>/<video>.avi [<1-based label>]`` (CRLF in the official files; the video name
may contain spaces); a label, where given, must agree with ``classInd.txt``. A video is matched by its stem, with any video extension.
"""

from __future__ import annotations

import os
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
)

N_SPLITS = 3


def read(root: Path, splits_dir: str | os.PathLike, failures: Failures) -> Catalog:
    """Catalog of the three official splits; labels follow ``classInd.txt`` (index - 1)."""
    splits_dir = existing_dir(splits_dir, "UCF-101 split folder")
    class_index = existing_file(splits_dir / "classInd.txt", "UCF-101 class index")
    lists = [
        (k, role, existing_file(splits_dir / f"{role}list{k + 1:02d}.txt", "UCF-101 split file"))
        for k in range(N_SPLITS)
        for role in (TRAIN, TEST)
    ]
    catalog = Catalog(_read_class_index(class_index), N_SPLITS, failures)
    lists += [(k, VAL, splits_dir / f"vallist{k + 1:02d}.txt") for k in range(N_SPLITS)
              if (splits_dir / f"vallist{k + 1:02d}.txt").is_file()]
    for k, role, path in lists:
        _read_list(catalog, root, path, k, role)
    return catalog


def _read_class_index(path: Path) -> list[str]:
    """Class names in label order from lines ``<index> <Class>``; IngestError unless indices are 1..N."""
    entries = []
    for number, text in read_lines(path):
        parts = text.split()
        if len(parts) != 2 or not parts[0].isdigit():
            raise IngestError(f"{path}:{number}: malformed class index line {text!r}")
        entries.append((int(parts[0]), parts[1]))
    if sorted(index for index, _ in entries) != list(range(1, len(entries) + 1)):
        raise IngestError(f"{path}: class indices are not 1..{len(entries)}")
    return [name for _, name in sorted(entries)]


def _read_list(catalog: Catalog, root: Path, path: Path, split: int, role: str) -> None:
    """Add the lines ``<Class>/<video> [<label>]`` of one split list to the catalog."""
    index = {name: i + 1 for i, name in enumerate(catalog.classes)}
    for number, text in read_lines(path):
        where = f"{path}:{number}"
        name, label = _split_label(text)
        parts = name.split("/")
        if len(parts) != 2 or not all(parts) or os.path.splitext(name)[1].lower() not in VIDEO_EXTENSIONS:
            catalog.failures.add(where, f"malformed line {text!r}: expected '<Class>/<video> [<label>]'")
            continue
        class_name, video_id = parts[0], os.path.splitext(parts[1])[0]
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
    """``<Class>/<video> [<label>]`` -> (path, label or None); the path may contain spaces."""
    head, _, last = text.rstrip().rpartition(" ")
    if head and last.isdigit():
        return head.rstrip(), last
    return text.strip(), None
