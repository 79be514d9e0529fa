"""mmaction2's rawframe file lists: ``<folder> <total_frames> <label>`` lines, named as mmaction2 names them.

``total_frames`` counts the ``img_`` files for RGB lists and the ``flow_x_`` files for flow lists
(``*_flow.txt``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from twostream.data.rawframes.naming import RawframesError
from twostream.files import write_text


def list_lines(done: pd.DataFrame, count: str) -> str:
    """mmaction2 rawframe list lines ``<folder> <total_frames> <label>`` (``count``: frames or flows)."""
    return "".join(f"{r.video_id} {getattr(r, count)} {r.label}\n" for r in done.itertuples())


def list_names(name: str, n_splits: int) -> list[tuple[str, int, str]]:
    """(file stem, split number or 0 for the whole set, role) of each list, named as mmaction2 names them.

    Several splits: ``<name>_{train,val}_split_<k>_rawframes``; one: ``<name>_{train,val}_list_rawframes``
    (``tools/data/build_file_list.py``); the whole set: ``<name>_rawframes``. Test videos go to ``val``.
    """
    if not name or any(ch.isspace() or ch in "/\\" for ch in name):
        raise RawframesError(f"list name {name!r} must be non-empty, without whitespace or slashes")
    names = [(f"{name}_rawframes", 0, "")]
    for k in range(1, n_splits + 1):
        middle = f"split_{k}" if n_splits > 1 else "list"
        for subset, role in (("train", "train"), ("val", "test")):
            names.append((f"{name}_{subset}_{middle}_rawframes", k, role))
    return names


def write_lists(folder: str | os.PathLike, name: str, done: pd.DataFrame, splits: pd.DataFrame | None,
                classes: Sequence[str], with_flow: bool) -> list[Path]:
    """The RGB (and flow) lists of the whole set and of each split, and ``<name>_classes.txt``.

    ``splits`` is indexed by video id with one column per split (cells ``train``, ``test`` or ``''``).
    """
    folder = Path(folder)
    written = []
    for stem, k, role in list_names(name, 0 if splits is None else splits.shape[1]):
        rows = done if not k else done[done["video_id"].map(splits.iloc[:, k - 1]).eq(role)]
        for count, suffix in (("frames", ""), ("flows", "_flow"))[:1 + with_flow]:
            path = folder / f"{stem}{suffix}.txt"
            write_text(list_lines(rows, count), path)
            written.append(path)
    path = folder / f"{name}_classes.txt"
    write_text("".join(f"{i} {c}\n" for i, c in enumerate(classes)), path)
    return [*written, path]
