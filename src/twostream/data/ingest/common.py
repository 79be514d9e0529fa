"""Shared ingest machinery: listings read from official files, file lookup, probing, tables."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from twostream.data.ingest.probe import alias, opencv_safe, probe_all

STAGE = "ingest"
FAILURE_COLUMNS = ["video", "stage", "reason"]
INFO_COLUMNS = ["frames", "fps", "width", "height"]
# Matched case-insensitively; a listed video is found by its stem with any of these.
VIDEO_EXTENSIONS = frozenset(
    {".avi", ".mp4", ".mkv", ".webm", ".mov", ".m4v", ".mpg", ".mpeg", ".flv", ".wmv"}
)
TRAIN, TEST, UNUSED = "train", "test", ""
VAL = "val"  # a validation list (the embedded dataset's vallist0k.txt): for tuning, disjoint from train and test


class IngestError(Exception):
    """Bad arguments: a missing root, split folder or required split file (the message names it)."""


class Failures:
    """Failure rows (video, reason); each is also printed as one line to stderr when added."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, str]] = []

    def add(self, video: str, reason: str) -> None:
        reason = " ".join(reason.split())
        self.rows.append((video, reason))
        tqdm.write(f"{video}: {reason}", file=sys.stderr)

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            [(video, STAGE, reason) for video, reason in self.rows], columns=FAILURE_COLUMNS, dtype=str
        )


@dataclass
class Listing:
    """One video as the official files name it: id, class, where its file may lie, split roles."""

    video_id: str
    class_name: str
    dirs: tuple[Path, ...]
    splits: list[str]
    files: list[Path] = field(default_factory=list)  # the video's file(s), where the adapter found them itself


@dataclass
class Catalog:
    """What an adapter read from a dataset's official files."""

    classes: list[str]
    n_splits: int
    failures: Failures
    listings: dict[tuple[str, str], Listing] = field(default_factory=dict)

    def assign(
        self,
        video_id: str,
        class_name: str,
        dirs: tuple[Path, ...],
        split: int,
        role: str,
        where: str,
        file: Path | None = None,
    ) -> None:
        """Record ``role`` (train/test) of a video in split ``split`` (0-based); a conflict is a failure.

        ``file`` is the video's file where the adapter found it (else it is looked up by id in ``dirs``).
        """
        key = (class_name, video_id)
        listing = self.listings.get(key)
        if listing is None:
            listing = self.listings[key] = Listing(video_id, class_name, dirs, [UNUSED] * self.n_splits)
        if file is not None and file not in listing.files:
            listing.files.append(file)
        if listing.splits[split] not in (UNUSED, role):
            self.failures.add(
                where,
                f"{video_id} listed as {role} but already as {listing.splits[split]} in split {split + 1}",
            )
            return
        listing.splits[split] = role


def existing_dir(path: str | os.PathLike, what: str) -> Path:
    """``path`` as an absolute Path; IngestError if it is not a folder."""
    path = Path(os.path.abspath(path))
    if not path.is_dir():
        raise IngestError(f"{what} not found: {path}")
    return path


def existing_file(path: str | os.PathLike, what: str) -> Path:
    """``path`` as an absolute Path; IngestError if it is not a file."""
    path = Path(os.path.abspath(path))
    if not path.is_file():
        raise IngestError(f"{what} not found: {path}")
    return path


def read_lines(path: Path) -> Iterable[tuple[int, str]]:
    """(1-based line number, stripped text) of the non-blank lines; CRLF and a BOM are tolerated."""
    with open(path, encoding="utf-8-sig") as f:
        for number, line in enumerate(f, start=1):
            if line.strip():
                yield number, line.strip()


def printable(name: str) -> str:
    """A file name as valid text: bytes that are not UTF-8 (surrogate-escaped by os) written as \\xHH."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def is_video(name: str) -> bool:
    return not name.startswith(".") and os.path.splitext(name)[1].lower() in VIDEO_EXTENSIONS


def videos_in(folder: Path) -> dict[str, list[Path]]:
    """Video files directly in ``folder`` by stem (empty if the folder does not exist)."""
    found: dict[str, list[Path]] = {}
    try:
        entries = list(os.scandir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return found
    for entry in entries:
        if is_video(entry.name) and entry.is_file():
            found.setdefault(os.path.splitext(entry.name)[0], []).append(Path(entry.path))
    return found


def locate(catalog: Catalog) -> list[tuple[Listing, Path]]:
    """One (listing, file) per video id, sorted by id.

    A listing with no file is a ``missing file`` failure; of several files with one id (another
    extension, another folder) the first in sorted path order is kept and the others are failures.
    """
    folders: dict[Path, dict[str, list[Path]]] = {}  # each folder is listed once
    by_id: dict[str, list[tuple[Path, Listing]]] = {}
    for listing in catalog.listings.values():
        for folder in () if listing.files else listing.dirs:
            if folder not in folders:
                folders[folder] = videos_in(folder)
        found = listing.files or [p for folder in listing.dirs for p in folders[folder].get(listing.video_id, [])]
        paths = sorted(set(found))
        if not paths:
            catalog.failures.add(listing.video_id, "missing file")
        for path in paths:
            by_id.setdefault(listing.video_id, []).append((path, listing))
    located = []
    for video_id in sorted(by_id):
        (kept, listing), *others = sorted(by_id[video_id], key=lambda pair: pair[0])
        for other, _ in others:
            catalog.failures.add(printable(str(other)), f"duplicate video id {video_id} (kept {printable(str(kept))})")
        located.append((listing, kept))
    return located


def split_columns(n_splits: int) -> list[str]:
    return [f"split{k}" for k in range(1, n_splits + 1)]


def manifest_columns(n_splits: int) -> list[str]:
    return ["video_id", "path", "label", "class_name", *split_columns(n_splits), *INFO_COLUMNS]


def build_manifest(catalog: Catalog, workers: int = 1, aliases: Path | None = None) -> pd.DataFrame:
    """Locate and probe the catalog's videos; the manifest of those that decode, sorted by id.

    A path OpenCV cannot take is replaced by a safe symbolic link to it in ``aliases`` (given), or
    left out as a failure (``aliases`` None).
    """
    located = []
    for listing, path in locate(catalog):
        if not opencv_safe(path):
            if aliases is None:
                catalog.failures.add(listing.video_id, "file name OpenCV cannot open (not UTF-8 or has '%')")
                continue
            link = alias(path, aliases)
            tqdm.write(f"{listing.video_id}: opened through {link} (a name OpenCV cannot take)", file=sys.stderr)
            path = link
        located.append((listing, path))
    infos = probe_all([path for _, path in located], workers)
    label = {name: i for i, name in enumerate(catalog.classes)}
    rows = []
    for (listing, path), info in zip(located, infos):
        if isinstance(info, str):
            catalog.failures.add(listing.video_id, info)
            continue
        rows.append(
            (
                listing.video_id,
                str(path),
                label[listing.class_name],
                listing.class_name,
                *listing.splits,
                info.frames,
                info.fps,
                info.width,
                info.height,
            )
        )
    return manifest_table(rows, catalog.n_splits)


def manifest_table(rows: list[tuple], n_splits: int) -> pd.DataFrame:
    """A manifest from its rows (``manifest_columns`` order), with its column types."""
    return pd.DataFrame(rows, columns=manifest_columns(n_splits)).astype(_dtypes(n_splits))


def _dtypes(n_splits: int) -> dict[str, str]:
    text = dict.fromkeys(["video_id", "path", "class_name", *split_columns(n_splits)], "str")
    return {
        **text,
        "label": "int64",
        "frames": "int64",
        "fps": "float64",
        "width": "int64",
        "height": "int64",
    }


def read_manifest(path: str | os.PathLike) -> pd.DataFrame:
    """Read a manifest CSV back with the types it was written with (empty split cells stay '')."""
    header = pd.read_csv(path, nrows=0).columns
    n_splits = sum(1 for c in header if c.startswith("split"))
    if list(header) != manifest_columns(n_splits):
        raise ValueError(f"{path}: not a manifest (columns {list(header)})")
    return pd.read_csv(path, keep_default_na=False, dtype=_dtypes(n_splits))
