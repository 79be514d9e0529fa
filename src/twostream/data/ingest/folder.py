"""Generic folder-per-class dataset: ``root/<class>/<video>``, with a seeded stratified split.

Class names are the folder names, the class index their sorted order. Files whose extension is not
a video extension are ignored. One split: in each class, ``test_fraction * n`` rounded half up
videos (at least one, and at least one left for training, when the class has two or more) are drawn
for test by a generator seeded with ``seed`` and the class name, so that a class's split depends on
nothing else.
"""

from __future__ import annotations

import math
import random
from pathlib import Path

from twostream.data.ingest.common import TEST, TRAIN, Catalog, Failures, IngestError, videos_in


def read(root: Path, seed: int, test_fraction: float, failures: Failures) -> Catalog:
    """Catalog of every video under the class folders, split train/test per class."""
    if not 0 < test_fraction < 1:
        raise IngestError(f"test fraction must lie strictly between 0 and 1, not {test_fraction}")
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise IngestError(f"no class folders in {root}")
    catalog = Catalog(classes, 1, failures)
    for class_name in classes:
        folder = root / class_name
        stems = sorted(videos_in(folder))
        test = _draw_test(stems, f"{seed}/{class_name}", test_fraction)
        for stem in stems:
            catalog.assign(stem, class_name, (folder,), 0, TEST if stem in test else TRAIN, str(folder))
    return catalog


def _draw_test(stems: list[str], seed: str, test_fraction: float) -> set[str]:
    """The stems drawn for test from one class."""
    n = len(stems)
    n_test = min(max(math.floor(test_fraction * n + 0.5), 1), n - 1) if n > 1 else 0
    return set(random.Random(seed).sample(stems, n_test))
