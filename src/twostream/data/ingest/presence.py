"""Whether a dataset's listed videos are under its root: a wrong root or a half-finished download stops ingest.

``presence`` counts the videos the official files list and those found, names two expected paths that
are not there, and looks one or two folder levels below and above the root (and beside it) for the
missing ones; ``shortfall`` turns that into the one line that stops the dataset when fewer than
``min_present`` of the listed videos are found.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from twostream.data.ingest.common import Catalog, Listing, name_key, printable, videos_in

SAMPLE = 20  # missing videos looked for elsewhere
MAX_FOLDERS = 2000  # candidate roots looked in at most (a cheap search, whatever the tree)


@dataclass(frozen=True)
class Presence:
    """What ``presence`` found: counts, two expected paths not there, and a folder that holds missing videos."""

    listed: int
    found: int
    expected: tuple[str, ...]  # up to two paths of listed videos that are not there (``<folder>/<id>.*``)
    elsewhere: Path | None = None  # a candidate root holding the most of the sampled missing videos
    hits: int = 0  # how many of the sampled missing videos lie under ``elsewhere``
    sampled: int = 0


def presence(catalog: Catalog, root: Path) -> Presence:
    """Listed and found counts of a located catalog (``locate`` fills ``catalog.missing``), and where else the
    missing videos are, if anywhere one or two levels below or above ``root`` or beside it."""
    listed, missing = len(catalog.listings), sorted(catalog.missing, key=lambda m: (m.class_name, m.video_id))
    expected = tuple(f"{printable(str(m.dirs[0] / m.video_id))}.*" for m in missing[:2])
    if not missing:
        return Presence(listed, listed, expected)
    step = max(1, len(missing) // SAMPLE)
    sample = missing[::step][:SAMPLE]
    best, hits = None, 0
    listed_in: dict[Path, set[str]] = {}  # each folder is listed once
    for base in _candidates(root):
        found = sum(_found_under(base, root, m, listed_in) for m in sample)
        if found > hits:
            best, hits = base, found
    return Presence(listed, listed - len(missing), expected, best, hits, len(sample))


def _found_under(base: Path, root: Path, listing: Listing, listed_in: dict[Path, set[str]]) -> bool:
    """Whether the listed video lies where it would if ``base`` were the root."""
    for folder in listing.dirs:
        where = base / folder.relative_to(root)
        if where not in listed_in:
            listed_in[where] = set(videos_in(where))
        if name_key(listing.video_id) in listed_in[where]:
            return True
    return False


def _candidates(root: Path) -> list[Path]:
    """Folders one or two levels below the root, its parent and grandparent, and the folders beside it (and one
    level into them), nearest first; hidden folders left out; at most MAX_FOLDERS."""
    out: list[Path] = []

    def add(folder: Path, depth: int) -> None:
        for sub in _subfolders(folder):
            if len(out) >= MAX_FOLDERS:
                return
            if sub != root:
                out.append(sub)
            if depth > 1 and sub != root:
                add(sub, depth - 1)

    add(root, 2)
    ancestors = [p for p in (root.parent, root.parent.parent) if p != root]
    out += [p for p in ancestors if p not in out]
    if root.parent != root:
        add(root.parent, 2)
    return list(dict.fromkeys(out))


def _subfolders(folder: Path) -> list[Path]:
    try:
        return sorted(Path(e.path) for e in os.scandir(folder) if e.is_dir() and not e.name.startswith("."))
    except OSError:
        return []


def shortfall(found: Presence, root: Path, min_present: float) -> str | None:
    """The one line stopping a dataset of which fewer than ``min_present`` (a fraction; 0: no check) of the listed
    videos are found, or None."""
    if not found.listed or found.found >= min_present * found.listed:
        return None
    line = (f"only {found.found} of {found.listed} listed videos are under the root {printable(str(root))} "
            f"({found.found / found.listed:.0%}, fewer than min_present {min_present:g})")
    if found.expected:
        line += f"; not there: {', '.join(found.expected)}"
    if found.elsewhere is not None:
        line += (f"; did you mean root: {printable(str(found.elsewhere))}? ({found.hits} of {found.sampled} missing "
                 f"videos looked for are there)")
    return line + "; min_present: 0 uses whatever is there"
