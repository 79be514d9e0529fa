"""Shard file names: unique, safe on every file system (case-insensitive ones too), reversible to the id."""

from __future__ import annotations

import os
import re

import pytest

from twostream.data.shards import shard_name, video_id_of

IDS = [
    "v_good", "run/good_00", "wave/good_00", "run/sub/good_00", "run_good_00", "run%2fgood_00",
    "v_name with spaces ü", "Run/Good_00", "run/GOOD_00", "RUN/good_00", "ÜBER/über", "über/über",
    "run/bad\udcff", "run/bad\\xff", "con", "CON", "nul.avi", "aux/x", "com1", ".hidden", "a.b.c",
    "~tilde", "a~1", "trailing.", "trailing ", "日本語/動画", "tab\tand\nnewline", "back\\slash", "a:b*c?d\"e<f>g|h",
]
SAFE = re.compile(r"[a-zA-Z0-9._%~^-]+")  # printable ASCII that no common file system forbids


@pytest.mark.parametrize("video_id", IDS)
def test_name_is_safe_and_reversible(video_id) -> None:
    name = shard_name(video_id)
    assert SAFE.fullmatch(name) and name.endswith(".h5") and not name.startswith(".")
    assert name.split(".")[0].lower() not in {"con", "prn", "aux", "nul", "com1", "lpt1"}
    assert len(name.encode()) <= 255
    assert video_id_of(name) == video_id


def test_names_stay_unique_on_case_insensitive_file_systems() -> None:
    names = [shard_name(i) for i in IDS]
    assert len({n.casefold() for n in names}) == len(IDS)


def test_names_are_written_and_read_back_on_this_file_system(tmp_path) -> None:
    for video_id in IDS:
        (tmp_path / shard_name(video_id)).write_bytes(b"")
    assert sorted(video_id_of(n) for n in os.listdir(tmp_path)) == sorted(IDS)


def test_plain_ids_keep_readable_names() -> None:
    assert shard_name("v_good") == "v_good.h5"
    assert shard_name("run/good_00") == "run%2fgood_00.h5"
    assert shard_name("v_ApplyEyeMakeup_g01_c01").startswith("v_ApplyEyeMakeup_g01_c01~")


def test_overlong_ids_get_a_unique_hashed_name() -> None:
    long_a, long_b = "a" * 300 + "1", "a" * 300 + "2"
    names = {shard_name(long_a), shard_name(long_b)}
    assert len(names) == 2 and all(len(n) <= 255 for n in names)
    with pytest.raises(ValueError, match="not a reversible"):
        video_id_of(shard_name(long_a))


@pytest.mark.parametrize("name", ["x.avi", "run%2Fgood.h5", "Ab.h5", "a%zz.h5", "ümlaut.h5"])
def test_names_not_made_by_shard_name_are_rejected(name) -> None:
    with pytest.raises(ValueError):
        video_id_of(name)


def test_empty_id_is_rejected() -> None:
    with pytest.raises(ValueError, match="empty"):
        shard_name("")
