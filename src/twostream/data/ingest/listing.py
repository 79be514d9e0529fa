"""The names of the video files under a dataset root, kept in a file that changes only when they do.

The ingest rule depends on this file, so videos that appear under the root (a late download, a new
clip in a class folder) or disappear make the next run ingest again; when nothing changed the file is
not rewritten and nothing re-runs. Official-list kinds (UCF-101, HMDB-51, Kinetics, mmaction2 lists)
keep their videos in the root and its class folders; a folder dataset anywhere below its class folders.
"""

from __future__ import annotations

import os
from pathlib import Path

from twostream.data.ingest.common import is_video, printable
from twostream.files import write_text

def video_names(root: str | os.PathLike, kind: str) -> list[str]:
    """Sorted paths (relative to ``root``, ``/``-separated) of the entries named like videos under it."""
    root = Path(root)
    depth = None if kind == "folder" else 1  # folders below the root looked in (None: all)
    names = []
    for folder, dirs, files in os.walk(root):
        rel = Path(folder).relative_to(root)
        level = 0 if rel == Path(".") else len(rel.parts)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".")) if depth is None or level < depth else []
        names += [printable((rel / name).as_posix()) for name in files + dirs if is_video(name)]
    return sorted(set(names))


def refresh(root: str | os.PathLike, kind: str, path: str | os.PathLike) -> tuple[int, int] | None:
    """Write the listing of ``root`` to ``path`` if it differs from what is there: (appeared, disappeared) counts
    of a changed listing (the first one: everything appeared), None when unchanged (the file is not touched)."""
    names = video_names(root, kind)
    try:
        before = Path(path).read_text().splitlines()
    except FileNotFoundError:
        before = None
    if before == names:
        return None
    write_text("".join(f"{name}\n" for name in names), path)
    old = set(before or ())
    return len(set(names) - old), len(old - set(names))
