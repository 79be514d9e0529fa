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

A class folder without videos is not a class (listed as skipped; the labels are those of the classes with
videos). A class whose draw could not follow ``test_fraction`` (too few videos) is one warning line; a
class left without a training or a test video once the videos are probed (``check``) is an error naming it,
as are no videos at all.
"""

from __future__ import annotations

import math
import os
import random
from pathlib import Path

import pandas as pd

from twostream.data.ingest.common import (
    TEST,
    TRAIN,
    Catalog,
    Failures,
    IngestError,
    is_video,
    printable,
    tell,
)
from twostream.data.video import file_problem


def read(root: Path, seed: int, test_fraction: float, failures: Failures) -> Catalog:
    """Catalog of every video under the class folders, split train/test per class."""
    if not 0 < test_fraction < 1:
        raise IngestError(f"test fraction must lie strictly between 0 and 1, not {test_fraction}")
    folders, stray = [], 0
    for entry in _entries(root):
        if entry.is_dir(follow_symlinks=True) and not entry.name.startswith("."):
            folders.append(entry)
        else:
            stray += is_video(entry.name)
            _skip(entry, root, failures, "not in a class folder (videos go in <root>/<class>/)")
    found = {entry.name: _videos(Path(entry.path), root, failures) for entry in folders}
    for entry in folders:
        if not found[entry.name]:
            _skip(entry, root, failures, "class folder without videos: not a class (the labels are those of the "
                                         "classes with videos)")
    classes = [name for name, videos in found.items() if videos]
    if not classes:
        raise IngestError(f"no videos in class folders under {root} ({len(folders)} class folders"
                          f"{', all without videos' if folders else ''}; {stray} video files directly in the root;"
                          f" videos go in <root>/<class>/)")
    catalog = Catalog(classes, 1, failures)
    for class_name in classes:
        videos = found[class_name]
        test = draw_test(sorted(videos), f"{seed}/{class_name}", test_fraction)
        if len(test) != _share(len(videos), test_fraction) and len(videos) > 1:
            tell(f"class {class_name!r}: {len(videos)} videos are too few for a test share of {test_fraction}: "
                 f"{len(test)} drawn for test, {len(videos) - len(test)} for training")
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
            _skip(entry, root, failures, printable(file_problem(path) or "broken symbolic link"))  # or a loop
        elif entry.is_dir(follow_symlinks=False):
            if is_video(entry.name):
                _skip(entry, root, failures, "a directory named like a video (its contents are searched)")
            for video_id, paths in _videos(path, root, failures).items():
                found.setdefault(video_id, []).extend(paths)
        elif entry.is_dir():
            _skip(entry, root, failures, "symbolic link to a folder (not followed)")
        elif not entry.is_file():
            _skip(entry, root, failures, file_problem(path) or "not a regular file")  # a FIFO, socket, device
        elif not is_video(entry.name):
            _skip(entry, root, failures, f"not a video file extension ({printable(os.path.splitext(entry.name)[1]) or 'none'})")
        else:
            video_id = printable(os.path.splitext(path.relative_to(root).as_posix())[0])
            found.setdefault(video_id, []).append(path)
    return found


def _skip(entry: os.DirEntry, root: Path, failures: Failures, reason: str) -> None:
    failures.skip(printable(Path(entry.path).relative_to(root).as_posix()), reason)


def _share(n: int, test_fraction: float) -> int:
    """``test_fraction * n`` rounded half up."""
    return math.floor(test_fraction * n + 0.5)


def draw_test(ids: list[str], seed: str, test_fraction: float) -> set[str]:
    """The ids drawn for test from one class."""
    n = len(ids)
    n_test = min(max(_share(n, test_fraction), 1), n - 1) if n > 1 else 0
    return set(random.Random(seed).sample(ids, n_test))


def check(manifest: pd.DataFrame, classes: list[str]) -> None:
    """IngestError naming the classes left without a usable training or test video (after probing)."""
    problems = []
    for class_name in classes:
        roles = manifest.loc[manifest["class_name"] == class_name, "split1"].value_counts()
        usable = int(roles.sum())
        if not usable:
            problems.append(f"{class_name!r} has no usable video")
            continue
        lacking = [role for role in (TRAIN, TEST) if not roles.get(role, 0)]
        if lacking:
            problems.append(f"{class_name!r} has {usable} usable video{'s' * (usable > 1)}, none for "
                            f"{' or '.join('training' if role == TRAIN else 'test' for role in lacking)}")
    if problems:
        raise IngestError(f"classes without a training and a test video: {'; '.join(problems)} (a class needs "
                          f"two usable videos or more; see the failures table)")
