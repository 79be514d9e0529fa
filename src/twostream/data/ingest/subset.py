"""A trial on part of a dataset (``datasets.<d>.subset``): some classes, a few videos of each.

Classes: the first N in the dataset's class order (``Catalog.classes``: ``classInd.txt`` for UCF-101,
``class_list.txt`` or the sorted split-file names for HMDB-51, sorted labels for Kinetics and sorted folders for
the folder kind), or the named ones. Videos: of each kept class, for each configured split and each role
(train, test, val), the first ``per_class`` by video id among the videos found on disk; a video keeps the roles
it was chosen for and loses the others (its other splits' cells are emptied), so the manifest has at most
``per_class`` videos of each class in each role of each configured split. Labels stay those of the whole
dataset, so every shard of a trial is the full run's shard of that video (same recipe): growing the subset,
or dropping it, computes only the videos that are new. The manifest records the subset in its ``subset``
column.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from twostream.data.ingest.common import TEST, TRAIN, UNUSED, VAL, Catalog, IngestError, Listing, tell

COLUMN = "subset"


@dataclass(frozen=True)
class Subset:
    classes: int | tuple[str, ...] | None = None  # the first N classes, or these names (None: every class)
    per_class: int | None = None  # at most this many videos per class, split and role (None: all)

    def record(self) -> str:
        """The subset as the manifest's ``subset`` column holds it (JSON, keys as in the config)."""
        out: dict = {}
        if self.classes is not None:
            out["classes"] = self.classes if isinstance(self.classes, int) else list(self.classes)
        if self.per_class is not None:
            out["per_class"] = self.per_class
        return json.dumps(out, separators=(",", ":"))


def from_arguments(classes: Sequence[str] | None, per_class: int | None) -> Subset | None:
    """The subset of ``ingest --classes N|NAME... --per-class M`` (a single number: the first N classes)."""
    if not classes and per_class is None:
        return None
    if classes and len(classes) == 1 and classes[0].isdigit():
        n = int(classes[0])
        if n < 1:
            raise IngestError("--classes: the number of classes must be at least 1")
        return Subset(n, per_class)
    if per_class is not None and per_class < 1:
        raise IngestError("--per-class must be at least 1")
    return Subset(tuple(classes) if classes else None, per_class)


def kept_classes(catalog: Catalog, subset: Subset) -> list[str]:
    """The classes of the trial, in the dataset's class order; IngestError for a named class the dataset lacks."""
    if subset.classes is None:
        return list(catalog.classes)
    if isinstance(subset.classes, int):
        if subset.classes > len(catalog.classes):
            tell(f"subset: {subset.classes} classes asked, the dataset has {len(catalog.classes)}: all of them")
        return list(catalog.classes[:subset.classes])
    unknown = [name for name in subset.classes if name not in catalog.classes]
    if unknown:
        raise IngestError(f"subset: unknown class{'es' * (len(unknown) > 1)} {', '.join(map(repr, unknown))}; the "
                          f"dataset's classes begin {', '.join(map(repr, catalog.classes[:5]))}")
    return [name for name in catalog.classes if name in subset.classes]


def keep_classes(catalog: Catalog, subset: Subset) -> list[str]:
    """Drop the listings of the classes left out (before files are looked for); returns the kept classes."""
    kept = set(kept_classes(catalog, subset))
    catalog.listings = {key: listing for key, listing in catalog.listings.items() if listing.class_name in kept}
    return [name for name in catalog.classes if name in kept]


def choose(located: list[tuple[Listing, Path]], subset: Subset, splits: Sequence[int]) -> list[tuple[Listing, Path]]:
    """The videos of the trial among those found (``locate``'s list, in its order), their roles cut as above."""
    if subset.per_class is None:
        return located
    chosen: dict[int, set[int]] = {}  # position in located -> the 0-based splits whose role it keeps
    by_group: dict[tuple[str, int, str], list[int]] = {}
    for i, (listing, _) in enumerate(located):
        for k in splits:
            role = listing.splits[k - 1]
            if role in (TRAIN, TEST, VAL):
                by_group.setdefault((listing.class_name, k - 1, role), []).append(i)
    for (_, k, _), members in by_group.items():
        for i in sorted(members, key=lambda i: located[i][0].video_id)[:subset.per_class]:
            chosen.setdefault(i, set()).add(k)
    out = []
    for i, (listing, path) in enumerate(located):
        if i in chosen:
            listing.splits = [role if k in chosen[i] else UNUSED for k, role in enumerate(listing.splits)]
            out.append((listing, path))
    return out
