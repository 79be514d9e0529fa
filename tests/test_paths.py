"""Paths of a rawframes dataset: keyed by what its manifest and its import depend on, apart from a video
dataset's (twostream.paths)."""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

from twostream import paths
from twostream.config import prepare

TINY = Path(__file__).resolve().parent / "workflow" / "tiny.yaml"


def config(**rawframes) -> dict:
    """tiny.yaml plus `raw`, a UCF-101 rawframes dataset with the ``rawframes`` block given."""
    out = yaml.safe_load(TINY.read_text())
    out["datasets"]["raw"] = {"kind": "ucf101", "source": "rawframes", "root": "r", "splits_dir": "s", "splits": [1],
                              "crop": 28, "rawframes": rawframes}
    prepare(out)
    return out


def where(c: dict) -> tuple[str, str, str]:
    return paths.ingest_dir(c, "raw"), paths.shards_dir(c, "raw"), paths.data(c, "raw")


def test_a_rawframes_dataset_is_keyed_by_its_import() -> None:
    base = config()
    ingest, shards, data = where(base)
    assert shards.startswith("shards/raw/rawframes-") and data.startswith("results/raw/rawframes-")
    assert where(config(encoding="denseflow", bound=20)) == (ingest, shards, data)  # the defaults move nothing
    encoding = where(config(encoding="twostream"))
    assert encoding[0] == ingest and encoding[1] != shards and encoding[2] != data  # same manifest, new shards
    named = where(config(start_index=0))
    assert named[0] != ingest and named[1] != shards  # another naming: another manifest and other shards
    quality = copy.deepcopy(base)
    quality["flow"]["jpeg_quality"] = 80  # PNG frames are encoded at it
    assert where(quality)[1] != shards

