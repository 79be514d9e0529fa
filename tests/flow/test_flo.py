"""Middlebury .flo reading and writing."""

from __future__ import annotations

import numpy as np
import pytest

from twostream.flow.flo import read_flo, write_flo


def test_round_trip_is_exact(tmp_path):
    flow = np.random.default_rng(0).normal(0, 5, (7, 11, 2)).astype(np.float32)
    path = tmp_path / "f.flo"
    write_flo(path, flow)
    np.testing.assert_array_equal(read_flo(path), flow)
    assert path.stat().st_size == 12 + flow.nbytes
    assert [p.name for p in tmp_path.iterdir()] == ["f.flo"]  # no temporary file left behind


def test_header_is_tag_width_height(tmp_path):
    path = tmp_path / "f.flo"
    write_flo(path, np.zeros((3, 5, 2), np.float32))
    header = path.read_bytes()[:12]
    assert np.frombuffer(header[:4], "<f4")[0] == 202021.25
    assert tuple(np.frombuffer(header[4:], "<i4")) == (5, 3)


def test_bad_tag_is_rejected(tmp_path):
    path = tmp_path / "bad.flo"
    path.write_bytes(b"PIEX" + b"\0" * 8)  # the tag is the bytes "PIEH"
    with pytest.raises(ValueError, match="bad.flo: not a Middlebury .flo file"):
        read_flo(path)


def test_empty_file_is_rejected(tmp_path):
    path = tmp_path / "empty.flo"
    path.write_bytes(b"")
    with pytest.raises(ValueError, match="empty.flo: not a Middlebury"):
        read_flo(path)


def test_truncated_file_is_rejected(tmp_path):
    path = tmp_path / "cut.flo"
    write_flo(path, np.ones((4, 4, 2), np.float32))
    path.write_bytes(path.read_bytes()[:-8])
    with pytest.raises(ValueError, match=r"cut.flo: truncated .flo file \(30 of 32 values\)"):
        read_flo(path)


def test_write_rejects_a_field_that_is_not_h_w_2(tmp_path):
    with pytest.raises(ValueError, match=r"expected \(H, W, 2\) flow"):
        write_flo(tmp_path / "f.flo", np.zeros((4, 4, 3), np.float32))
    assert not list(tmp_path.iterdir())
