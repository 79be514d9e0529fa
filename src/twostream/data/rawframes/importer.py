"""Rawframes folders packed into shards: the import, which decodes nothing and computes no flow.

Each video's folder (a manifest row's ``path``) is read back (``reader.read_folder``: JPEG files
kept byte for byte, other formats encoded as JPEG) and written as the pipeline's shard. The flow
images keep the grey levels they were made with: the shard records their encoding and bound
(``flow_encoding``, ``flow_encoding_bound``) beside ``flow_bound``, the scale the loader maps them
to (``shards.flow_table``). A shard made by the same recipe (the folder's files, their sizes and
times, the naming, encoding, bounds, quality and code) is kept. A folder's defects are one line
each and the index row's reason; unusable folders are failed rows, and the rest go on.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from twostream.data.extract import INDEX_COLUMNS, frames_warning, reusable, shard_path
from twostream.data.rawframes.reader import read_folder
from twostream.data.rawframes.templates import Naming, listing
from twostream.data.shards import FLOW_ENCODINGS, Shard, ShardError, remove_stale, verify, write_encoded
from twostream.data.video import VideoError

STAGE = "import"


@dataclass(frozen=True)
class Source:
    """How a dataset's rawframes are named and how their flow images encode flow (``bound`` in pixels)."""

    naming: Naming
    encoding: str
    bound: float

    def __post_init__(self) -> None:
        if self.encoding not in FLOW_ENCODINGS:
            raise ValueError(f"unknown flow encoding {self.encoding!r} (one of {', '.join(FLOW_ENCODINGS)})")
        if self.bound <= 0:
            raise ValueError(f"the rawframes' flow bound must be positive, not {self.bound}")

    def describe(self) -> dict:
        return {**self.naming.describe(), "encoding": self.encoding, "bound": float(self.bound)}


def files_digest(folder: str | os.PathLike) -> str:
    """A digest of a folder's image files: names, sizes and modification times (their contents are not read)."""
    h = hashlib.sha256()
    try:
        for name in listing(folder):
            st = os.stat(os.path.join(folder, name))
            h.update(f"{name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode("utf-8", "surrogateescape"))
    except OSError as e:
        raise VideoError(f"cannot read the folder ({e.strerror})") from None
    return h.hexdigest()


def recipe(row: pd.Series, source: Source, *, bound: float, quality: int, code: str) -> str:
    """Everything an imported shard depends on (the folder's place is left out: a moved tree keeps its shards)."""
    if not os.path.isdir(row["path"]):
        raise VideoError("folder not found")
    return json.dumps({
        "video_id": row["video_id"], "label": int(row["label"]), "class_name": row["class_name"],
        "files": files_digest(row["path"]), "rawframes": source.describe(), "flow_bound": float(bound),
        "jpeg_quality": quality, "code": code,
    }, sort_keys=True)


def import_video(row: pd.Series, out: Path, source: Source, *, bound: float, quality: int, length: int,
                 code: str = "") -> tuple[int, int, str]:
    """One folder's shard: (frames, bytes, notes: its defects and warnings, '; '-joined).

    A shard of the same recipe is kept (with the notes it was made with). VideoError for a folder that cannot be used.
    """
    key = recipe(row, source, bound=bound, quality=quality, code=code)
    done = reusable(out, key)
    if done is not None:
        with Shard(out) as shard:
            return done[0], out.stat().st_size, str(shard.attrs.get("import_notes", ""))
    folder = read_folder(row["path"], source.naming, quality)
    notes = "; ".join(n for n in [*folder.notes, frames_warning(folder.frames, [], folder.frames, length)] if n)
    attrs = {
        "video_id": row["video_id"], "label": int(row["label"]), "class_name": row["class_name"],
        "fps": float(row["fps"]), "source": str(row["path"]), "flow_backend": "rawframes",
        "flow_params": source.describe(), "flow_bound": float(bound), "flow_encoding": source.encoding,
        "flow_encoding_bound": float(source.bound), "recipe": key, "import_notes": notes,
    }
    remove_stale(out)
    nbytes = write_encoded(out, folder.rgb, folder.flow, folder.size, attrs, quality)
    try:
        verify(out)
    except ShardError:
        out.unlink(missing_ok=True)
        raise
    return folder.frames, nbytes, notes


def import_chunk(rows: pd.DataFrame, shards_dir: str | os.PathLike, source: Source, *, bound: float, quality: int,
                 length: int, code: str = "") -> pd.DataFrame:
    """The chunk index (``extract.INDEX_COLUMNS``) of importing every folder of ``rows``, one at a time.

    A folder that cannot be used is a failed row, a used one with defects an ok row with its notes;
    each is printed as one line and the rest go on.
    """
    records = []
    for _, row in tqdm(rows.iterrows(), total=len(rows), desc=STAGE, unit="video", file=sys.stderr):
        out = shard_path(shards_dir, row["video_id"])
        try:
            frames, nbytes, notes = import_video(row, out, source, bound=bound, quality=quality, length=length,
                                                 code=code)
        except (VideoError, ShardError) as e:
            tqdm.write(f"{row['path']}: {e}", file=sys.stderr)
            records.append((row["video_id"], "", 0, 0, 0, "failed", str(e)))
            continue
        if notes:
            tqdm.write(f"{row['path']}: {notes}", file=sys.stderr)
        records.append((row["video_id"], str(out), frames, 0, nbytes, "ok", notes))
    return pd.DataFrame(records, columns=INDEX_COLUMNS)
