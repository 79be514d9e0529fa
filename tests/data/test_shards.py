"""Shards: round trip, random access, integrity checks."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from twostream.data.shards import (Shard, ShardCache, ShardError, dequantize_flow, flow_table, flow_values, quantize_flow,
                                   write_shard)


def _video(t: int = 6, h: int = 24, w: int = 32) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    rgb = np.repeat(np.linspace(0, 255, w, dtype=np.uint8)[None, None, :, None], h, axis=1).repeat(t, 0).repeat(3, 3)
    rgb = (rgb.astype(int) + np.arange(t)[:, None, None, None] * 10).clip(0, 255).astype(np.uint8)
    flow = np.clip(rng.normal(0, 0.3, (t - 1, h, w, 2)), -1, 1).astype(np.float32)
    flow[..., 0] = 0.5  # smooth field, JPEG-friendly
    return rgb, flow


@pytest.fixture
def shard_file(tmp_path):
    rgb, flow = _video()
    path = tmp_path / "v.h5"
    size = write_shard(path, rgb, quantize_flow(flow), {"video_id": "v", "label": 3, "flow_params": {"tau": 0.25}}, quality=90)
    assert size == path.stat().st_size
    return path, rgb, flow


def test_quantisation() -> None:
    f = np.array([-1.0, -0.5, 0.0, 0.5, 1.0, 3.0])
    q = quantize_flow(f)
    assert q.tolist() == [1, 64, 128, 192, 255, 255]
    assert np.allclose(dequantize_flow(q)[:5], f[:5], atol=0.5 / 127)
    assert dequantize_flow(np.array([128], np.uint8))[0] == 0.0


def test_round_trip(shard_file) -> None:
    path, rgb, flow = shard_file
    with Shard(path) as s:
        assert s.frames == 6
        assert s.attrs["label"] == 3 and s.attrs["flow_params"] == {"tau": 0.25}
        assert s.attrs["height"] == 24 and s.attrs["width"] == 32
        for t in (0, 5):
            assert np.abs(s.rgb(t).astype(int) - rgb[t, ..., ::-1]).mean() < 2  # RGB order, JPEG error
        stack = s.flow(1, 3)
        assert stack.shape == (3, 24, 32, 2)
        assert np.abs(dequantize_flow(stack[..., 0]) - 0.5).max() < 0.02
        # Past the end: the last field repeats.
        assert np.array_equal(s.flow(3, 5)[2:], np.stack([s.flow(4, 1)[0]] * 3))


def test_shape_mismatch(tmp_path) -> None:
    rgb, flow = _video()
    with pytest.raises(ValueError, match="does not match"):
        write_shard(tmp_path / "x.h5", rgb, quantize_flow(flow[:-1]), {}, quality=90)
    assert not list(tmp_path.iterdir())


def test_missing_and_truncated(shard_file, tmp_path) -> None:
    path = shard_file[0]
    with pytest.raises(ShardError, match="not found"):
        Shard(tmp_path / "nope.h5")
    data = path.read_bytes()
    cut = tmp_path / "cut.h5"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(ShardError, match="delete it and re-run"):
        Shard(cut)


def test_incomplete_flag(shard_file) -> None:
    path = shard_file[0]
    with h5py.File(path, "a") as f:
        f.attrs["complete"] = False
    with pytest.raises(ShardError, match="incomplete"):
        Shard(path)


def test_flipped_byte_is_caught_by_checksum(shard_file) -> None:
    path = shard_file[0]
    with h5py.File(path, "r") as f:
        offset = f["rgb/bytes"].id.get_chunk_info(0).byte_offset
    data = bytearray(path.read_bytes())
    data[offset + 100] ^= 0xFF
    path.write_bytes(bytes(data))
    with Shard(path) as s, pytest.raises(ShardError, match="checksum"):
        s.rgb(0)


def test_cache_is_bounded(tmp_path) -> None:
    rgb, flow = _video(t=3)
    paths = []
    for i in range(4):
        paths.append(tmp_path / f"{i}.h5")
        write_shard(paths[-1], rgb, quantize_flow(flow), {}, quality=90)
    cache = ShardCache(size=2)
    first = cache.get(paths[0])
    assert cache.get(paths[0]) is first
    for p in paths[1:]:
        cache.get(p)
    assert len(cache._open) == 2 and str(paths[0]) not in cache._open


def denseflow_levels(v: np.ndarray, bound: float) -> np.ndarray:
    """denseflow's convertFlowToImage: round(255 (v + b) / (2 b)) of v clipped to +-b."""
    return np.rint(255 * (np.clip(v, -bound, bound) + bound) / (2 * bound)).astype(np.uint8)


@pytest.mark.parametrize("bound, target", [(20.0, 20.0), (15.0, 20.0), (30.0, 20.0)])
def test_a_denseflow_level_maps_within_half_a_step_of_its_flow(bound, target) -> None:
    v = np.linspace(-bound, bound, 2001)
    table = flow_table("denseflow", bound, target)
    got = dequantize_flow(table[denseflow_levels(v, bound)]) * target
    exact = np.clip(flow_values("denseflow", bound)[denseflow_levels(v, bound)], -target, target)
    assert np.abs(got - exact).max() <= 0.5 / 127 * target + 1e-9  # the map's own rounding
    assert np.abs(got - np.clip(v, -target, target)).max() <= (0.5 / 127 * target + bound / 255) + 1e-9
    assert table[128] == 128 if bound == target else True  # zero stays zero


def test_this_projects_encoding_at_its_bound_is_not_mapped() -> None:
    assert flow_table("twostream", 20.0, 20.0) is None
    half = flow_table("twostream", 10.0, 20.0)
    assert half[128] == 128 and half[255] == 192 and half[1] == 64  # +-10 px is half of +-20
    with pytest.raises(ValueError, match="unknown flow encoding"):
        flow_values("raft", 20.0)


def test_a_shard_in_another_encoding_reads_as_this_projects(tmp_path) -> None:
    rng = np.random.default_rng(3)
    rgb = rng.integers(0, 256, (3, 16, 16, 3), dtype=np.uint8)
    stored = rng.integers(0, 256, (2, 16, 16, 2), dtype=np.uint8)
    attrs = {"flow_encoding": "denseflow", "flow_encoding_bound": 15.0, "flow_bound": 20.0}
    write_shard(tmp_path / "d.h5", rgb, stored, attrs, quality=100)
    write_shard(tmp_path / "t.h5", rgb, stored, {"flow_bound": 20.0}, quality=100)
    table = flow_table("denseflow", 15.0, 20.0)
    with Shard(tmp_path / "d.h5") as d, Shard(tmp_path / "t.h5") as t:
        assert t.flow_table is None and np.array_equal(d.flow_table, table)
        assert [b.tobytes() for b in d.flow_bytes(0, 2)] == [b.tobytes() for b in t.flow_bytes(0, 2)]  # stored as made
        np.testing.assert_array_equal(d.flow(0, 2), table[t.flow(0, 2)])
    write_shard(tmp_path / "bad.h5", rgb, stored, {"flow_encoding": "raft", "flow_encoding_bound": 1.0,
                                                   "flow_bound": 20.0}, quality=90)
    with pytest.raises(ShardError, match="bad flow encoding"):
        Shard(tmp_path / "bad.h5")
