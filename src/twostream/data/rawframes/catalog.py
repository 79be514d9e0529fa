"""The manifest of a rawframes tree: a dataset's split definition, with video folders in place of video files.

The split definition is the dataset kind's (``twostream.data.ingest``: official split files, annotation
CSVs, mmaction2 file lists, or class folders drawn into train/test). A listed video's folder is
``<dir>/<video id>`` for the folders its kind names (``root/<Class>/``, as mmaction2's two-level
lists) or flat ``root/<video id>``; a ``folder`` dataset's videos are the folders holding frames under
``root/<class>/``. The naming (templates, first numbers) is detected from the first folders in id
order where not given. Manifest rows are ``twostream.data.ingest``'s, with ``path`` the folder,
``frames`` its frames numbered without a gap, ``fps`` 0 (unknown) and the first frame's size.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from twostream.data.ingest import SUBSET_COLUMN, IngestError, Subset, read_catalog
from twostream.data.ingest.common import (
    TEST,
    TRAIN,
    Catalog,
    Failures,
    Listing,
    existing_dir,
    manifest_table,
    printable,
)
from twostream.data.ingest.folder import draw_test
from twostream.data.ingest.subset import choose, keep_classes
from twostream.data.rawframes.naming import RawframesError
from twostream.data.rawframes.reader import BadImage, jpeg_size, numbers, run_length
from twostream.data.rawframes.templates import Naming, detect, is_image, listing

SAMPLE = 8  # folders whose file names decide a dataset's naming


def rawframes_manifest(kind: str, root: str | os.PathLike, *, rgb: str | None = None, flow: str | None = None,
                       start: int | None = None, seed: int | None = None, test_fraction: float | None = None,
                       splits: Sequence[int] | None = None, subset: Subset | None = None, min_present: float = 0.0,
                       **split_files) -> tuple[pd.DataFrame, pd.DataFrame, Naming]:
    """(manifest, failures, naming) of a rawframes tree; IngestError for bad arguments or an undetectable naming.

    ``rgb``, ``flow`` (templates) and ``start`` are detected where None; ``split_files`` are
    ``read_catalog``'s (``splits_dir``, ``annotations``, ``lists``, ``classes``); ``splits`` and ``subset``
    are ``twostream.data.ingest.ingest``'s (the splits whose files must exist, a trial's part); fewer than
    ``min_present`` of the listed video folders found is an IngestError. ``failures.attrs["counts"]``: the
    summary (listed, used, failed, skipped).
    """
    root = existing_dir(root, "rawframes root")
    failures = Failures()
    if kind == "folder":
        if seed is None or test_fraction is None:
            raise IngestError(f"{root}: the folder kind needs a seed and a test fraction for its train/test draw")
        catalog = _folder_catalog(root, rgb, seed, test_fraction, failures)
    else:
        catalog = read_catalog(kind, root, failures, seed=seed, test_fraction=test_fraction, splits=splits,
                               **split_files)
    if subset is not None:
        keep_classes(catalog, subset)
    located = locate_folders(catalog, root)
    listed = len(catalog.listings)
    if listed and len(located) < min_present * listed:
        raise IngestError(f"{root}: {len(located)} of {listed} listed video folders found, fewer than min_present "
                          f"{min_present:g} of them (is root the folder that holds them?)")
    if subset is not None:
        located = choose(located, subset, splits or range(1, catalog.n_splits + 1))
    if not located:
        raise IngestError(f"{root}: no video folders found (looked for the folders the split definition lists)")
    sample = [path for _, path in located[:SAMPLE]]
    try:
        naming = detect([listing(f) for f in sample], rgb, flow, start)
    except RawframesError as e:
        raise IngestError(f"{root}: {e} (file names of {', '.join(str(p.relative_to(root)) for p in sample)})") from None
    rows = []
    for listed, folder in tqdm(located, desc="count frames", unit="folder", file=sys.stderr):
        row = _row(catalog, listed, folder, naming)
        if row is not None:
            rows.append(row)
    manifest = manifest_table(rows, catalog.n_splits)
    if subset is not None:
        manifest[SUBSET_COLUMN] = subset.record()
    table = failures.frame()
    table.attrs["counts"] = failures.counts(len(manifest))
    return manifest, table, naming


def locate_folders(catalog: Catalog, root: Path) -> list[tuple[Listing, Path]]:
    """One (listing, folder) per video, sorted by id: ``<dir>/<id>`` for its kind's folders, else ``root/<id>``.

    A listing without a folder is a ``missing folder`` failure.
    """
    located = []
    for listed in sorted(catalog.listings.values(), key=lambda v: (v.video_id, v.class_name)):
        candidates = listed.files or list(dict.fromkeys(d / listed.video_id for d in (*listed.dirs, root)))
        found = next((c for c in candidates if c.is_dir()), None)
        if found is None:
            catalog.failures.add(listed.video_id, f"missing folder (looked for {', '.join(map(str, candidates))})")
        else:
            located.append((listed, found))
    return located


def _row(catalog: Catalog, listed: Listing, folder: Path, naming: Naming) -> tuple | None:
    """The manifest row of a video folder, or None (a failure) if it has fewer than two frames."""
    present = numbers(listing(folder), naming.rgb)[0]
    frames = run_length(present, naming.rgb_start)
    if frames < 2:
        first = naming.rgb.name(naming.rgb_start)
        reason = (f"no {first}" + (f" (frames numbered from {min(present)})" if present else
                                   f" (no file named as {naming.rgb.text!r})")) if not frames else "only one frame"
        catalog.failures.add(listed.video_id, reason)
        return None
    height, width = _size(folder / naming.rgb.name(naming.rgb_start))
    return (listed.video_id, str(folder), catalog.classes.index(listed.class_name), listed.class_name,
            *listed.splits, frames, 0.0, width, height)


def _size(path: Path) -> tuple[int, int]:
    """(height, width) of an image from its header (JPEG) or by decoding it; (0, 0) if it cannot be read
    (the import explains why)."""
    import cv2
    import numpy as np

    try:
        data = path.read_bytes()
        if data[:2] == b"\xff\xd8":
            return jpeg_size(data)[:2]
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
        return (0, 0) if image is None else image.shape[:2]
    except (OSError, BadImage):
        return 0, 0


def _folder_catalog(root: Path, rgb: str | None, seed: int, test_fraction: float, failures: Failures) -> Catalog:
    """Class folders ``root/<class>/`` and the video folders under each (folders holding numbered images,
    not searched further), drawn into train and test per class as the ``folder`` kind draws videos."""
    depth = 0 if rgb is None else rgb.count("/")  # a template naming files in sub-folders of the video's folder
    classes = sorted(e.name for e in os.scandir(root) if e.is_dir() and not e.name.startswith("."))
    if not classes:
        raise IngestError(f"no class folders in {root}")
    catalog = Catalog(classes, 1, failures)
    for class_name in classes:
        videos = {}
        for d, dirs, files in os.walk(root / class_name):
            dirs[:] = sorted(x for x in dirs if not x.startswith("."))
            if any(is_image(f) for f in files):
                video = Path(d).parents[depth - 1] if depth else Path(d)
                videos[printable(video.relative_to(root).as_posix())] = video
                if not depth:
                    dirs[:] = []  # a video's folder: its sub-folders are its own
        test = draw_test(sorted(videos), f"{seed}/{class_name}", test_fraction)
        for video_id in sorted(videos):
            role = TEST if video_id in test else TRAIN
            catalog.assign(video_id, class_name, (), 0, role, video_id, file=videos[video_id])
    return catalog
