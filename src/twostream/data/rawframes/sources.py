"""The videos an export writes: found in files, folders and lists, or read from a manifest or a shard index."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from twostream.data.ingest.common import is_video, read_lines

STAGE = "rawframes"


@dataclass(frozen=True)
class Video:
    """One video to export: its folder name, source (a video file or a shard) and label."""

    video_id: str
    source: str
    label: int
    class_name: str


def find_videos(inputs: Sequence[str], failures: list[tuple[str, str, str]]) -> list[Video]:
    """Videos named by the inputs: video files, folders (searched recursively), ``.txt`` lists of videos.

    A list holds one video path a line (relative paths from the current folder, as denseflow reads them).

    A video's id is its file stem (as denseflow names its output folder); its class is its folder's
    name, labelled by the sorted class names. Of several files with one stem the first in sorted path
    order is kept; the others, and inputs that do not exist, are failures.
    """
    paths: list[Path] = []
    for text in inputs:
        path = Path(text)
        if path.is_dir():
            paths += sorted(Path(d) / f for d, _, files in os.walk(path) for f in files if is_video(f))
        elif path.suffix.lower() == ".txt" and path.is_file():
            paths += [Path(line) for _, line in read_lines(path)]
        elif path.exists():
            paths.append(path)
        else:
            fail(failures, text, "file not found")
    by_id: dict[str, Path] = {}
    for path in sorted({p.absolute() for p in paths}):
        kept = by_id.setdefault(path.stem, path)
        if kept != path:
            fail(failures, str(path), f"duplicate video id {path.stem} (kept {kept})")
    classes = sorted({p.parent.name for p in by_id.values()})
    return [Video(vid, str(p), classes.index(p.parent.name), p.parent.name) for vid, p in sorted(by_id.items())]


def videos_from_table(table: pd.DataFrame, source: str) -> list[Video]:
    """Videos of a manifest (``source="path"``) or a shard index (``source="shard"``)."""
    return [Video(r.video_id, getattr(r, source), int(r.label), r.class_name) for r in table.itertuples()]


def two_level(videos: Sequence[Video]) -> list[Video]:
    """The videos with ids ``<class name>/<video id>``: folders ``out/<Class>/<video>``, as mmaction2's lists of
    UCF-101 and HMDB-51 name them (``tools/data/build_file_list.py --level 2``)."""
    return [Video(f"{v.class_name}/{v.video_id}", v.source, v.label, v.class_name) for v in videos]


def fail(failures: list[tuple[str, str, str]], video: str, reason: str) -> None:
    """Add a failure row (video, stage, reason) and print it as one line."""
    failures.append((video, STAGE, reason))
    tqdm.write(f"{video}: {reason}", file=sys.stderr)
