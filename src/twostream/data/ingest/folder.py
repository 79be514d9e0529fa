"""Generic folder-per-class dataset: ``root/<class>/.../<video>``, with a seeded stratified split.

Class names are the top folder names, the class index their sorted order. A video's id is its path
relative to the root without the extension (``<class>/<name>``, ``<class>/<sub>/<name>`` for a
video in a nested folder, which belongs to the top class folder), so equal file names in different
classes or folders are different videos. Everything else met on the way is listed as skipped, with
its reason: files outside class folders, files without a video extension, hidden files, broken
symbolic links, links to folders (not followed) and directories named like videos (searched like
other folders). One split: in each class, ``test_fraction * n`` rounded half up videos (at least
one, and at least one left for training, when the class has two or more) are drawn for test by a
generator seeded with ``seed`` and the class name, so that a class's split depends on nothing else.
"""

from __future__ import annotations

import math
import os
import random
from pathlib import Path

from twostream.data.ingest.common import (
    TEST,
    TRAIN,
    Catalog,
    Failures,
    IngestError,
    is_video,
    printable,
)


def read(root: Path, seed: int, test_fraction: float, failures: Failures) -> Catalog:
    """Catalog of every video under the class folders, split train/test per class."""
    if not 0 < test_fraction < 1:
        raise IngestError(f"test fraction must lie strictly between 0 and 1, not {test_fraction}")
    classes = []
    for entry in _entries(root):
        if entry.is_dir(follow_symlinks=True) and not entry.name.startswith("."):
            classes.append(entry.name)
        else:
            _skip(entry, root, failures, "not in a class folder (videos go in <root>/<class>/)")
    if not classes:
        raise IngestError(f"no class folders in {root}")
    catalog = Catalog(classes, 1, failures)
    for class_name in classes:
        videos = dict(_videos(root / class_name, root, failures))
        test = draw_test(sorted(videos), f"{seed}/{class_name}", test_fraction)
        for video_id in sorted(videos):
            for path in videos[video_id]:
                role = TEST if video_id in test else TRAIN
                catalog.assign(video_id, class_name, (), 0, role, printable(str(path)), file=path)
    return catalog


def _entries(folder: Path) -> list[os.DirEntry]:
    with os.scandir(folder) as it:
        return sorted(it, key=lambda e: os.fsencode(e.name))


def _videos(folder: Path, root: Path, failures: Failures) -> dict[str, list[Path]]:
    """Video files under ``folder`` (searched recursively) by id; everything else is a skipped entry."""
    found: dict[str, list[Path]] = {}
    for entry in _entries(folder):
        path = Path(entry.path)
        if entry.name.startswith("."):
            _skip(entry, root, failures, "hidden file or folder")
        elif entry.is_symlink() and not os.path.exists(path):
            _skip(entry, root, failures, f"broken symbolic link (target {printable(os.readlink(path))!r} is missing)")
        elif entry.is_dir(follow_symlinks=False):
            if is_video(entry.name):
                _skip(entry, root, failures, "a directory named like a video (its contents are searched)")
            for video_id, paths in _videos(path, root, failures).items():
                found.setdefault(video_id, []).extend(paths)
        elif entry.is_dir():
            _skip(entry, root, failures, "symbolic link to a folder (not followed)")
        elif not entry.is_file():
            _skip(entry, root, failures, "not a regular file")
        elif not is_video(entry.name):
            _skip(entry, root, failures, f"not a video file extension ({printable(os.path.splitext(entry.name)[1]) or 'none'})")
        else:
            video_id = printable(os.path.splitext(path.relative_to(root).as_posix())[0])
            found.setdefault(video_id, []).append(path)
    return found


def _skip(entry: os.DirEntry, root: Path, failures: Failures, reason: str) -> None:
    failures.add(printable(Path(entry.path).relative_to(root).as_posix()), f"skipped: {reason}")


def draw_test(ids: list[str], seed: str, test_fraction: float) -> set[str]:
    """The ids drawn for test from one class."""
    n = len(ids)
    n_test = min(max(math.floor(test_fraction * n + 0.5), 1), n - 1) if n > 1 else 0
    return set(random.Random(seed).sample(ids, n_test))
