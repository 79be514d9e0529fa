"""mmaction2 file lists as a split definition: per split, a train list and a test (``val``) list.

Rawframe list lines are ``<frame_dir> <total_frames> <label>`` (``tools/data/build_file_list.py``;
``total_frames`` is not used: the folder is counted), video list lines ``<file> <label>``. A video's id
is its entry as listed, without a video extension (``ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01`` for
two-level folders), found at ``root/<entry>``. Class names come from a classes file (``<label> <name>``
lines, as ``twostream rawframes`` writes ``<name>_classes.txt``, or one name a line in label order),
else from the first folder of two-level entries, else they are the labels' numbers.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from twostream.data.ingest.common import (
    TEST,
    TRAIN,
    VIDEO_EXTENSIONS,
    Catalog,
    Failures,
    IngestError,
    existing_file,
    read_lines,
)


def read(root: Path, lists: Sequence[Sequence[str | os.PathLike]], classes: str | os.PathLike | None,
         failures: Failures) -> Catalog:
    """Catalog of the splits given as (train list, test list) pairs."""
    if not lists or any(len(pair) != 2 for pair in lists):
        raise IngestError("mmaction2 file lists go in pairs per split: [train list, test (val) list]")
    entries = []  # (split, role, where, entry, label)
    for k, pair in enumerate(lists):
        for role, path in zip((TRAIN, TEST), pair):
            path = existing_file(path, "mmaction2 file list")
            for number, text in read_lines(path):
                entry = _entry(text, f"{path}:{number}", failures)
                if entry is not None:
                    entries.append((k, role, f"{path}:{number}", *entry))
    labels = sorted({label for *_, label in entries})
    names = _class_names(labels, entries, classes)
    catalog = Catalog(names, len(lists), failures, source="file list")
    for k, role, where, entry, label in entries:
        video_id, ext = os.path.splitext(entry) if os.path.splitext(entry)[1].lower() in VIDEO_EXTENSIONS \
            else (entry, "")
        file = root / entry if ext and (root / entry).is_file() else None
        catalog.assign(video_id, names[label], (root,), k, role, where, file=file)
    return catalog


def _entry(text: str, where: str, failures: Failures) -> tuple[str, int] | None:
    """(entry, label) of a list line; a malformed line is a failure."""
    fields = text.split()
    if len(fields) not in (2, 3) or not all(f.isdigit() for f in fields[1:]) or fields[0].startswith("/") \
            or ".." in fields[0].split("/"):
        failures.add(where, f"malformed line {text!r}: expected '<frame_dir> <total_frames> <label>' "
                            "or '<file> <label>' (a path relative to the root)")
        return None
    return fields[0].rstrip("/"), int(fields[-1])


def _class_names(labels: list[int], entries: list, classes: str | os.PathLike | None) -> list[str]:
    """Class names in label order 0..max label."""
    count = (max(labels) + 1) if labels else 0
    if classes is not None:
        path = existing_file(classes, "classes file")
        lines = [text for _, text in read_lines(path)]
        pairs = [line.split(maxsplit=1) for line in lines]
        if pairs and all(len(p) == 2 and p[0].isdigit() for p in pairs):
            named = {int(i): name for i, name in pairs}
        else:
            named = dict(enumerate(lines))
        missing = [label for label in labels if label not in named]
        if missing:
            raise IngestError(f"{path}: no class name for label(s) {missing[:5]}")
        return [named.get(i, str(i)) for i in range(max(count, len(named)))]
    folders: dict[int, Counter] = {}
    for *_, entry, label in entries:
        if "/" in entry:
            folders.setdefault(label, Counter())[entry.split("/", 1)[0]] += 1
    names = [folders[i].most_common(1)[0][0] if i in folders else str(i) for i in range(count)]
    return names if len(set(names)) == len(names) else [str(i) for i in range(count)]
