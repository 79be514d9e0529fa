"""TSN snippet positions."""

from __future__ import annotations

import numpy as np

from twostream.data.sampling import positions, eval_offsets, train_offsets


def test_positions_keep_the_stack_inside() -> None:
    assert positions(12, 5) == 7  # stacks start at 0..6; the last uses flow fields 6..10 of 11
    assert positions(6, 5) == 1
    assert positions(3, 5) == 1  # shorter than one stack: position 0, last field repeated


def test_train_offsets_one_per_segment() -> None:
    rng = np.random.default_rng(0)
    for _ in range(200):
        off = train_offsets(30, 3, rng)
        assert 0 <= off[0] < 10 <= off[1] < 20 <= off[2] < 30
    assert set(np.concatenate([train_offsets(30, 3, rng) for _ in range(300)])) == set(range(30))


def test_train_offsets_short_video() -> None:
    rng = np.random.default_rng(0)
    for n in (1, 2):
        off = train_offsets(n, 3, rng)
        assert len(off) == 3 and off.max() < n and np.all(np.diff(off) >= 0)


def test_eval_offsets_are_segment_centres() -> None:
    assert eval_offsets(30, 3).tolist() == [5, 15, 25]
    assert eval_offsets(100, 25).tolist()[:3] == [2, 6, 10]
    assert eval_offsets(2, 5).tolist() == [0, 0, 1, 1, 1]
