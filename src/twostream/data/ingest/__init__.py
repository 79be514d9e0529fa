"""Dataset ingest: a dataset's official files -> one manifest table plus a failures table.

Manifest columns: ``video_id, path, label, class_name, split1..splitN, frames, fps, width,
height`` (one row per video that is in at least one split and probes, sorted by ``video_id``;
split cells are ``train``, ``test``, ``val`` or ``''``), and ``subset`` where the manifest is a trial on part of
the dataset (``twostream.data.ingest.subset``). Failures columns: ``video, stage, reason``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from twostream.data.ingest import folder, hmdb51, kinetics, mmaction2, ucf101
from twostream.data.ingest.common import (
    FAILURE_COLUMNS,
    Catalog,
    Failures,
    IngestError,
    build_manifest,
    existing_dir,
    locate,
    manifest_columns,
    read_manifest,
    report_unlisted,
)
from twostream.data.ingest.presence import presence, shortfall
from twostream.data.ingest.subset import COLUMN as SUBSET_COLUMN
from twostream.data.ingest.subset import Subset, choose, keep_classes

KINDS = ("ucf101", "hmdb51", "kinetics400", "folder", "mmaction2")
N_SPLITS = {"ucf101": ucf101.N_SPLITS, "hmdb51": hmdb51.N_SPLITS, "kinetics400": 1, "folder": 1}  # mmaction2: its lists

__all__ = ["FAILURE_COLUMNS", "KINDS", "SUBSET_COLUMN", "IngestError", "Subset", "ingest", "manifest_columns",
           "read_catalog", "read_manifest"]


def read_catalog(
    kind: str,
    root: Path,
    failures: Failures,
    *,
    splits_dir: str | os.PathLike | None = None,
    annotations: Sequence[str | os.PathLike] | None = None,
    lists: Sequence[Sequence[str | os.PathLike]] | None = None,
    classes: str | os.PathLike | None = None,
    seed: int | None = None,
    test_fraction: float | None = None,
    splits: Sequence[int] | None = None,
) -> Catalog:
    """What a dataset's split definition lists (see ``ingest`` for the arguments each kind needs)."""
    if kind not in KINDS:
        raise IngestError(f"unknown dataset kind {kind!r} (one of {', '.join(KINDS)})")
    n_splits = len(lists or ()) if kind == "mmaction2" else N_SPLITS[kind]
    splits = range(1, n_splits + 1) if splits is None else splits
    if not set(splits) <= set(range(1, n_splits + 1)):
        raise IngestError(f"splits {sorted(set(splits))}: a {kind} dataset has splits 1..{n_splits}")
    if (splits_dir is not None) != (kind in ("ucf101", "hmdb51")):
        raise IngestError(f"a split folder is {'needed' if splits_dir is None else 'not used'} for {kind}")
    if (annotations is not None) != (kind == "kinetics400"):
        raise IngestError(f"annotation CSVs are {'needed' if annotations is None else 'not used'} for {kind}")
    if (lists is not None) != (kind == "mmaction2"):
        raise IngestError(f"mmaction2 file lists are {'needed' if lists is None else 'not used'} for {kind}")
    if classes is not None and kind != "mmaction2":
        raise IngestError(f"a classes file is not used for {kind}")
    if kind == "folder" and (seed is None or test_fraction is None):
        raise IngestError(f"{root}: the folder kind needs a seed and a test fraction for its train/test draw")
    if kind == "ucf101":
        return ucf101.read(root, splits_dir, failures, splits)
    if kind == "hmdb51":
        return hmdb51.read(root, splits_dir, failures, splits)
    if kind == "kinetics400":
        return kinetics.read(root, annotations, failures)
    if kind == "mmaction2":
        return mmaction2.read(root, lists, classes, failures)
    return folder.read(root, seed, test_fraction, failures)


def ingest(
    kind: str,
    root: str | os.PathLike,
    *,
    splits_dir: str | os.PathLike | None = None,
    annotations: Sequence[str | os.PathLike] | None = None,
    lists: Sequence[Sequence[str | os.PathLike]] | None = None,
    classes: str | os.PathLike | None = None,
    seed: int | None = None,
    test_fraction: float | None = None,
    workers: int = 1,
    aliases: str | os.PathLike | None = None,
    splits: Sequence[int] | None = None,
    min_present: float = 0.0,
    subset: Subset | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(manifest, failures) of one dataset; IngestError for bad arguments, never for one bad video.

    ``failures.attrs["counts"]``: the summary (listed, used, failed, skipped; ``Failures.counts``).

    ``splits_dir`` is needed by ``ucf101`` and ``hmdb51``, ``annotations`` (CSV paths) by
    ``kinetics400``, ``lists`` (per split a train and a test list) and optionally ``classes`` by
    ``mmaction2``, ``seed`` and ``test_fraction`` by ``folder`` (their defaults live in the config
    schema: ``seed``, ``datasets.<name>.test_fraction``). Videos whose path OpenCV
    cannot take are opened through symbolic links made in ``aliases`` (without it they are failures).
    ``splits`` (1-based; None: all the kind has) are the splits whose official files must exist; the
    files of the others are read where present. Videos under the root that no official line names are
    failures (``report_unlisted``). Fewer than ``min_present`` (a fraction; 0, the default here: no
    check; the workflow passes ``datasets.<d>.min_present``) of the listed videos found is an
    IngestError, before any video is probed (``presence.shortfall``: counts, two expected paths, and a
    folder near the root that holds the missing videos).
    """
    root = existing_dir(root, "video root")
    failures = Failures()
    catalog = read_catalog(kind, root, failures, splits_dir=splits_dir, annotations=annotations, lists=lists,
                           classes=classes, seed=seed, test_fraction=test_fraction, splits=splits)
    if kind != "folder":
        report_unlisted(catalog, root)
    classes = catalog.classes if subset is None else keep_classes(catalog, subset)
    located = locate(catalog)
    short = shortfall(presence(catalog, root), root, min_present) if kind != "folder" else None
    if short is not None:
        raise IngestError(short)
    if subset is not None:
        located = choose(located, subset, splits or range(1, catalog.n_splits + 1))
    aliases = None if aliases is None else Path(os.path.abspath(aliases))
    manifest = build_manifest(catalog, located, workers, aliases)
    if subset is not None:
        manifest[SUBSET_COLUMN] = subset.record()
    if kind == "folder":
        folder.check(manifest, classes)
    table = failures.frame()
    table.attrs["counts"] = failures.counts(len(manifest))
    return manifest, table
