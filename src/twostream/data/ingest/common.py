"""Shared ingest machinery: listings read from official files, file lookup, probing, tables."""

from __future__ import annotations

import os
import re
import sys
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from twostream.data.ingest.probe import alias, opencv_safe, probe_all
from twostream.data.video import file_problem

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


def tell(line: str) -> None:
    """One line to stderr (beside any progress bar)."""
    tqdm.write(line, file=sys.stderr)


class Failures:
    """Failure rows (video, reason); each is also printed as one line to stderr when added (``echo``).

    Entries that are not listed videos (a file outside the class folders, a video no split file names) are
    *skipped* (``skip``: reason ``skipped: ...``), and warnings about a file that was read all the same are
    *notes* (``note``), both counted apart from the listed videos that fail (``counts``).
    """

    def __init__(self) -> None:
        self.rows: list[tuple[str, str]] = []
        self.skipped = self.notes = 0

    def add(self, video: str, reason: str, echo: bool = True) -> None:
        reason = " ".join(reason.split())
        self.rows.append((video, reason))
        if echo:
            tell(f"{video}: {reason}")

    def skip(self, entry: str, reason: str, echo: bool = True) -> None:
        self.skipped += 1
        self.add(entry, f"skipped: {reason}", echo)

    def note(self, entry: str, reason: str) -> None:
        self.notes += 1
        self.add(entry, reason)

    def counts(self, used: int) -> dict[str, int]:
        """listed (used + failed), used, failed, skipped: the dataset's summary once ``used`` videos are usable."""
        failed = len(self.rows) - self.skipped - self.notes
        return {"listed": used + failed, "used": used, "failed": failed, "skipped": self.skipped}

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
    missing: list[Listing] = field(default_factory=list)  # listings with no entry on disk (``locate``)
    mentioned: set[str] = field(default_factory=set)  # ids the official files name, used or not (HMDB's 0)
    source: str = "split file"  # what names the videos, for messages

    def mention(self, video_id: str) -> None:
        """A video the official files name but do not use (HMDB-51's role 0, Kinetics' unlabelled test rows)."""
        self.mentioned.add(name_key(video_id))

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
        self.mention(video_id)
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


BOMS = ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe\x00\x00", "utf-32-le"), (b"\x00\x00\xfe\xff", "utf-32-be"),
        (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))


def decode_text(path: Path, warn: Failures | None = None) -> str:
    """A split or annotation file's text: UTF-8 with or without a BOM; other encodings where unambiguous, with a
    warning (a row of ``warn``, else a line on stderr); IngestError naming the file, line and encoding otherwise.

    Unambiguous: UTF-16/32 with a BOM, UTF-16 without one whose every other byte is NUL (ASCII text), and
    Latin-1 (ISO 8859-1) for 8-bit text without bytes 0x80-0x9F (which Windows-1252 and other code pages use).
    """
    try:
        data = path.read_bytes()
    except OSError as e:
        raise IngestError(f"cannot read {path}: {e.strerror}") from None
    for bom, codec in BOMS:
        if data.startswith(bom):
            try:
                text = data[len(bom):].decode(codec)
            except UnicodeDecodeError as e:
                raise IngestError(f"{path}: starts with a {codec.upper()} byte-order mark but byte {e.start + len(bom)}"
                                  f" is not {codec.upper()}: save it as UTF-8") from None
            if codec != "utf-8":
                _warn(path, f"{codec.upper()} (byte-order mark), not UTF-8: read as {codec.upper()}", warn)
            return text
    if b"\x00" in data:
        codec = _nul_codec(data)
        if codec is None:
            line = data.count(b"\n", 0, data.index(b"\x00")) + 1
            raise IngestError(f"{path}:{line}: not a text file (NUL bytes, and not UTF-16 either): expected UTF-8")
        _warn(path, f"{codec.upper()} (every other byte NUL), not UTF-8: read as {codec.upper()}", warn)
        return data.decode(codec)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line, column = data.count(b"\n", 0, e.start) + 1, e.start - data.rfind(b"\n", 0, e.start)
        found = f"not UTF-8 (byte 0x{data[e.start]:02X} at line {line}, column {column})"
        if any(0x80 <= b <= 0x9F for b in data):
            raise IngestError(f"{path}:{line}: {found}; an 8-bit code page such as Windows-1252, not Latin-1: "
                              f"save it as UTF-8") from None
        _warn(path, f"{found}: read as Latin-1", warn)
        return data.decode("latin-1")


def _nul_codec(data: bytes) -> str | None:
    """UTF-16 (little or big endian) for text whose every other byte is NUL, else None."""
    if len(data) % 2:
        return None
    even, odd = data[0::2], data[1::2]
    if not odd.strip(b"\x00") and b"\x00" not in even:
        return "utf-16-le"
    if not even.strip(b"\x00") and b"\x00" not in odd:
        return "utf-16-be"
    return None


def _warn(path: Path, found: str, warn: Failures | None) -> None:
    reason = f"{found} (save it as UTF-8 to be sure)"
    if warn is None:
        tell(f"{path}: {reason}")
    else:
        warn.note(str(path), reason)


def read_lines(path: Path, warn: Failures | None = None) -> Iterable[tuple[int, str]]:
    """(1-based line number, stripped text) of the non-blank lines (``decode_text``); CRLF, CR and a BOM are
    tolerated."""
    for number, line in enumerate(re.split(r"\r\n|\r|\n", decode_text(path, warn)), start=1):
        if line.strip():
            yield number, line.strip()


def printable(name: str) -> str:
    """A file name as valid text: bytes that are not UTF-8 (surrogate-escaped by os) written as \\xHH."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def is_video(name: str) -> bool:
    return not name.startswith(".") and os.path.splitext(name)[1].lower() in VIDEO_EXTENSIONS


def name_key(name: str) -> str:
    """How a listed name is matched with a file name: Unicode NFC (macOS writes names decomposed, NFD)."""
    return unicodedata.normalize("NFC", name)


def videos_in(folder: Path) -> dict[str, list[Path]]:
    """Entries directly in ``folder`` named like videos, by stem in NFC (empty if the folder does not exist).

    Whatever they are: a FIFO, a directory or a broken link named like a listed video is that video's
    entry, to be reported with what it is (``twostream.data.video.file_problem``), not as a missing file.
    """
    found: dict[str, list[Path]] = {}
    try:
        entries = list(os.scandir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return found
    except OSError as e:
        tell(f"{folder}: cannot list the folder ({e.strerror}); its videos are missing")
        return found
    for entry in entries:
        if is_video(entry.name):
            found.setdefault(name_key(os.path.splitext(entry.name)[0]), []).append(Path(entry.path))
    return found


def locate(catalog: Catalog) -> list[tuple[Listing, Path]]:
    """One (listing, file) per video id, sorted by id.

    A listing with no entry is a ``missing file`` failure, one whose entry is not a usable file a failure
    with what it is (a FIFO, a directory, ...); of several files with one id (another extension,
    another folder) the first usable one in sorted path order is kept and the others are failures.
    A class of which no listed video is found is also one line, naming where they were looked for.
    """
    folders: dict[Path, dict[str, list[Path]]] = {}  # each folder is listed once
    by_id: dict[str, list[tuple[Path, Listing]]] = {}
    for listing in catalog.listings.values():
        for folder in () if listing.files else listing.dirs:
            if folder not in folders:
                folders[folder] = videos_in(folder)
        key = name_key(listing.video_id)
        found = listing.files or [p for folder in listing.dirs for p in folders[folder].get(key, [])]
        paths = sorted(set(found))
        if not paths:
            catalog.missing.append(listing)
            catalog.failures.add(listing.video_id, "missing file")
        for path in paths:
            by_id.setdefault(listing.video_id, []).append((path, listing))
    _report_absent_classes(catalog, {listing.class_name for pairs in by_id.values() for _, listing in pairs})
    located = []
    for video_id in sorted(by_id):
        (kept, listing), *others = sorted(by_id[video_id], key=lambda pair: (file_problem(pair[0]) is not None, pair[0]))
        for other, _ in others:
            catalog.failures.add(printable(str(other)), f"duplicate video id {video_id} (kept {printable(str(kept))})")
        problem = file_problem(kept)
        if problem is not None:
            catalog.failures.add(listing.video_id, problem)
            continue
        located.append((listing, kept))
    return located


def _report_absent_classes(catalog: Catalog, found: set[str]) -> None:
    """One line for each class that has listed videos of which none is found."""
    listed: dict[str, list[Listing]] = {}
    for listing in catalog.listings.values():
        listed.setdefault(listing.class_name, []).append(listing)
    for class_name, listings in listed.items():
        if class_name in found:
            continue
        folders = [d for d in listings[0].dirs if d.is_dir()]
        where = (f"folder {printable(str(listings[0].dirs[0]))} does not exist" if not folders else
                 f"not in {', '.join(printable(str(d)) for d in folders)}")
        tell(f"class {class_name!r}: none of its {len(listings)} listed videos is found ({where})")


def report_unlisted(catalog: Catalog, root: Path) -> None:
    """Videos in ``root`` and its folders that no line of the official files names: each a failures row, one line
    a folder (a class folder none of whose videos is named: a class with videos but no split lines)."""
    try:
        folders = [root] + sorted(Path(e.path) for e in os.scandir(root) if e.is_dir() and not e.name.startswith("."))
    except OSError:
        return
    for folder in folders:
        videos = videos_in(folder)
        prefix = "" if folder == root else name_key(f"{folder.name}/")  # ids may hold the folder (mmaction2 lists)
        unnamed = sorted(p for key, paths in videos.items()
                         if key not in catalog.mentioned and prefix + key not in catalog.mentioned for p in paths)
        if not unnamed:
            continue
        videos_ = f"{len(unnamed)} video{'s' * (len(unnamed) > 1)}"
        if len(unnamed) == sum(map(len, videos.values())) and folder != root:
            reason = f"class {printable(folder.name)!r} has videos but no {catalog.source} lines"
            line = f"class {printable(folder.name)!r} has {videos_} but no {catalog.source} lines"
        else:
            reason = f"no {catalog.source} line names it"
            line = f"{videos_} that no {catalog.source} line names"
        for path in unnamed:
            catalog.failures.skip(printable(path.relative_to(root).as_posix()), reason, echo=False)
        tell(f"{printable(str(folder))}: {line}: not used (each in the failures table)")


def split_columns(n_splits: int) -> list[str]:
    return [f"split{k}" for k in range(1, n_splits + 1)]


def manifest_columns(n_splits: int) -> list[str]:
    return ["video_id", "path", "label", "class_name", *split_columns(n_splits), *INFO_COLUMNS]


def build_manifest(catalog: Catalog, located: list[tuple[Listing, Path]], workers: int = 1,
                   aliases: Path | None = None) -> pd.DataFrame:
    """Probe the catalog's located videos (``locate``); the manifest of those that decode, sorted by id.

    A path OpenCV cannot take is replaced by a safe symbolic link to it in ``aliases`` (given), or
    left out as a failure (``aliases`` None).
    """
    usable = []
    for listing, path in located:
        if not opencv_safe(path):
            if aliases is None:
                catalog.failures.add(listing.video_id, "file name OpenCV cannot open (not UTF-8 or has '%')")
                continue
            link = alias(path, aliases)
            tqdm.write(f"{listing.video_id}: opened through {link} (a name OpenCV cannot take)", file=sys.stderr)
            path = link
        usable.append((listing, path))
    infos = probe_all([path for _, path in usable], workers)
    label: dict[str, int] = {}
    for i, name in enumerate(catalog.classes):
        label.setdefault(name, i)  # a class listed twice keeps its first label
    rows = []
    for (listing, path), info in zip(usable, infos):
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
    """Read a manifest CSV back with the types it was written with (empty split cells stay ''); a trial's
    manifest has a last column, ``subset``."""
    header = pd.read_csv(path, nrows=0).columns
    n_splits = sum(1 for c in header if c.startswith("split"))
    if list(header) not in (manifest_columns(n_splits), [*manifest_columns(n_splits), "subset"]):
        raise ValueError(f"{path}: not a manifest (columns {list(header)})")
    return pd.read_csv(path, keep_default_na=False, dtype={**_dtypes(n_splits), "subset": "str"})
