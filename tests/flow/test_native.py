"""The C++ TV-L1 (twostream.flow.native): its median network, the same flow as torch, the build."""

from __future__ import annotations

import re

import cv2
import numpy as np
import pytest

from twostream.flow import native
from twostream.flow.metrics import epe
from twostream.flow.tvl1 import TorchTVL1

pytestmark = pytest.mark.skipif(native.library() is None, reason="no C++ compiler to build twostream.flow.native")
SMALL = dict(nscales=3, warps=2)  # a short schedule: torch's eager loop stays quick


def _batcher_median_network() -> list[tuple[int, int]]:
    """Batcher's odd-even merge sort of 32 values, inputs 25..31 +inf, pruned to what the 13th smallest needs."""
    net: list[tuple[int, int]] = []

    def merge(lo: int, hi: int, r: int) -> None:
        step = 2 * r
        if step < hi - lo:
            merge(lo, hi, step)
            merge(lo + r, hi, step)
            net.extend((i, i + r) for i in range(lo + r, hi - r, step))
        else:
            net.append((lo, lo + r))

    def sort(lo: int, hi: int) -> None:
        if hi - lo >= 1:
            mid = lo + (hi - lo) // 2
            sort(lo, mid)
            sort(mid + 1, hi)
            merge(lo, hi, 1)

    sort(0, 31)
    infinite, slot, ops = [k >= 25 for k in range(32)], list(range(32)), []
    for i, j in net:
        if infinite[j]:  # min(v, inf) = v stays at i: nothing to do
            continue
        if infinite[i]:  # the value moves to i, inf to j: rename instead of comparing
            infinite[i], infinite[j] = False, True
            slot[i], slot[j] = slot[j], slot[i]
            continue
        ops.append((slot[i], slot[j]))
    needed, kept = {slot[12]}, []
    for i, j in reversed(ops):
        if i in needed or j in needed:
            needed |= {i, j}
            kept.append((i, j))
    return kept[::-1]


def test_the_median_network_in_the_source_is_the_pruned_batcher_network_and_selects_the_median():
    source = native.SOURCE.read_text()
    in_source = [(int(i), int(j)) for i, j in re.findall(r"CX\((\d+), (\d+)\)", source)]
    assert in_source == _batcher_median_network() and len(in_source) == 113
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.normal(size=(4000, 25)), rng.integers(0, 3, (4000, 25))]).T.copy()
    for i, j in in_source:
        values[i], values[j] = np.minimum(values[i], values[j]), np.maximum(values[i], values[j])
    rng = np.random.default_rng(0)
    expected = np.median(np.concatenate([rng.normal(size=(4000, 25)), rng.integers(0, 3, (4000, 25))]), axis=1)
    np.testing.assert_array_equal(values[12], expected)


@pytest.mark.parametrize("shape", [(17, 23), (40, 70), (5, 16)])
def test_median5_matches_cv2_median_blur(shape):
    img = np.random.default_rng(2).normal(0, 2, shape).astype(np.float32)
    np.testing.assert_array_equal(native.median5(img[None])[0], cv2.medianBlur(img, 5))


@pytest.mark.parametrize("variant, bound", [("cuda", 1e-3), ("cpu", 0.02)])
def test_cpp_flow_is_torchs(translated_texture, variant, bound):
    # The cpu variant's stopping rule may end a warp an iteration apart (sums in another order),
    # and the median filter passes that on; the cuda variant measures only every other iteration.
    pairs = np.stack([translated_texture(40, 52, (1.3, -0.7), seed=0), translated_texture(40, 52, (-0.6, 1.1), seed=1)])
    cpp = TorchTVL1(variant=variant, **SMALL).compute(pairs[:, 0], pairs[:, 1])
    eager = TorchTVL1(variant=variant, compile=False, fused=False, **SMALL).compute(pairs[:, 0], pairs[:, 1])
    assert epe(cpp, eager) < bound
    assert np.abs(cpp).max() > 0.5  # the flow moved


def test_without_epsilon_every_iteration_runs(translated_texture):
    backend = TorchTVL1(variant="cpu", epsilon=0.0, inner_iterations=3, outer_iterations=2, **SMALL)
    pair = translated_texture(40, 52, (1.0, 0.0))
    _, counts = native.flow_arrays(pair[:1], pair[1:], backend.native_params())
    assert counts == [(40 * 52 + 32 * 42 + 26 * 34) * SMALL["warps"] * 3 * 2]


def test_the_library_is_built_once_per_cache_and_reused(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path))
    builds = []
    build = native._build
    monkeypatch.setattr(native, "_build", lambda target: builds.append(target) or build(target))
    native.library.cache_clear()
    try:
        assert native.library() is not None
        native.library.cache_clear()
        assert native.library() is not None
    finally:
        native.library.cache_clear()
    assert len(builds) == 1 and builds[0].parent == tmp_path and builds[0].exists()
    assert not [p for p in tmp_path.iterdir() if p.is_dir()]  # the temporary build folder is gone


def test_without_a_compiler_torch_computes_the_flow(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("CXX", str(tmp_path / "no-such-compiler"))
    native.library.cache_clear()
    try:
        with pytest.warns(UserWarning, match="C\\+\\+ TV-L1 unavailable, computing flow in torch"):
            backend = TorchTVL1(variant="cuda", compile=False)
    finally:
        native.library.cache_clear()
    assert not backend.fused and backend.params()["implementation"] == "torch"
