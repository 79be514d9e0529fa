"""The batched PyTorch TV-L1 backend: its building blocks, exactness, batching and compilation."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from twostream.flow import tvl1
from twostream.flow.metrics import epe
from twostream.flow.tvl1 import (
    TorchTVL1,
    centred_gradient,
    compile_available,
    pyramid_sizes,
    median5,
    pad_sources,
    resize_linear,
    warp,
)

SHIFT = (1.3, -0.7)
MARGIN = 8  # px left out at the borders, where the replicated border breaks the translation


@pytest.fixture(scope="module")
def backend() -> TorchTVL1:
    return TorchTVL1("cpu", variant="cuda")


@pytest.fixture(scope="module")
def pairs(translated_texture) -> np.ndarray:
    """(3, 2, H, W): two translations and a static pair, small enough to run a few times."""
    return np.stack(
        [
            translated_texture(96, 120, SHIFT, seed=0),
            translated_texture(96, 120, (-2.1, 0.4), seed=1),
            translated_texture(96, 120, (0.0, 0.0), seed=2),
        ]
    )


def test_pyramid_sizes_shrink_by_scale_step_down_to_16_px():
    assert pyramid_sizes(256, 340, 5, 0.8) == [(256, 340), (205, 272), (164, 218), (131, 174), (105, 139)]
    assert pyramid_sizes(30, 40, 5, 0.8) == [(30, 40), (24, 32), (19, 26)]  # next would be 15 px high
    assert pyramid_sizes(256, 340, 1, 0.8) == [(256, 340)]


def test_resize_linear_samples_at_scaled_corner_anchored_coordinates():
    ramp = torch.arange(10.0).expand(4, 10)  # value = x
    out = resize_linear(ramp[None], (4, 8), (1.0, 1.25))[0]
    torch.testing.assert_close(out[0], torch.tensor([0, 1.25, 2.5, 3.75, 5, 6.25, 7.5, 8.75]))
    up = resize_linear(ramp[None], (4, 13), (1.0, 0.75))[0]
    torch.testing.assert_close(up[0], torch.clamp(torch.arange(13) * 0.75, max=9.0))


def test_centred_gradient_of_a_ramp_is_its_slope_and_half_at_the_border():
    img = (3.0 * torch.arange(6.0))[None, None].expand(1, 5, 6)  # d/dx = 3, d/dy = 0
    gx, gy = centred_gradient(img)
    torch.testing.assert_close(gx[0, 0], torch.tensor([1.5, 3, 3, 3, 3, 1.5]))
    assert not gy.any()


def test_resize_linear_centred_samples_like_cv2_resize():
    import cv2

    img = np.random.default_rng(0).uniform(0, 255, (40, 52)).astype(np.float32)
    ours = resize_linear(torch.from_numpy(img)[None], (32, 42), (1.25, 1.25), centred=True)[0].numpy()
    np.testing.assert_allclose(ours, cv2.resize(img, None, fx=0.8, fy=0.8, interpolation=cv2.INTER_LINEAR), atol=1e-3)
    up = resize_linear(torch.from_numpy(img)[None], (50, 65), (40 / 50, 52 / 65), centred=True)[0].numpy()
    np.testing.assert_allclose(up, cv2.resize(img, (65, 50), interpolation=cv2.INTER_LINEAR), atol=1e-3)


def _warp_planes(src: torch.Tensor, dx: torch.Tensor, dy: torch.Tensor, variant: str) -> torch.Tensor:
    """I1w of ``warp`` for one plane (N, H, W): rho_c + grad . u + I0 with zero gradients and I0."""
    scheme = tvl1.SCHEMES[variant]
    zeros = torch.zeros_like(src)
    padded = pad_sources(torch.stack((src, zeros, zeros), 1), scheme.zero_border)
    return warp(padded, zeros, dx, dy, scheme.cubic_a, scheme.quantum)[2]


def test_cuda_warp_shifts_by_whole_pixels_exactly_and_reproduces_quadratics():
    x = torch.arange(12.0)
    zero = torch.zeros(1, 9, 12)
    shifted = _warp_planes(x.expand(1, 9, 12), zero + 2.0, zero, "cuda")
    torch.testing.assert_close(shifted[0, 0], torch.clamp(x + 2, max=11))
    half = _warp_planes((x * x).expand(1, 9, 12), zero + 0.5, zero, "cuda")
    # Keys' kernel (a = -0.5) interpolates polynomials up to degree two exactly.
    torch.testing.assert_close(half[0, 0, 1:-3], (x[1:-3] + 0.5) ** 2)


def test_cpu_warp_matches_cv2_remap_cubic():
    import cv2

    rng = np.random.default_rng(1)
    img = rng.uniform(0, 255, (30, 40)).astype(np.float32)
    dx, dy = (rng.uniform(-3, 3, (30, 40)).astype(np.float32) for _ in range(2))
    ys, xs = np.mgrid[:30, :40].astype(np.float32)
    expected = cv2.remap(img, xs + dx, ys + dy, cv2.INTER_CUBIC)  # zeros outside, as the CPU class warps
    ours = _warp_planes(torch.from_numpy(img)[None], torch.from_numpy(dx)[None], torch.from_numpy(dy)[None], "cpu")
    np.testing.assert_allclose(ours[0].numpy(), expected, atol=2e-3)


def test_median5_matches_cv2_median_blur():
    import cv2

    img = np.random.default_rng(2).normal(0, 2, (17, 23)).astype(np.float32)
    np.testing.assert_array_equal(median5(torch.from_numpy(img)[None])[0].numpy(), cv2.medianBlur(img, 5))


@pytest.mark.parametrize("variant, bound", [("cuda", 0.05), ("cpu", 0.1)])
def test_recovers_a_subpixel_translation(translated_texture, variant, bound):
    # On this synthetic texture OpenCV's CPU class (zeros outside the image) is off by ~0.045 px per
    # axis (tests/flow/test_opencv.py); the cpu variant follows it, so its bound is OpenCV's.
    pair = translated_texture(160, 200, SHIFT)
    flow = TorchTVL1("cpu", variant=variant).compute(pair[:1], pair[1:])[0]
    inner = flow[MARGIN:-MARGIN, MARGIN:-MARGIN]
    assert epe(inner, np.broadcast_to(np.float32(SHIFT), inner.shape)) < bound


def test_a_batch_gives_the_results_of_one_pair_at_a_time(backend, pairs):
    batched = backend.compute(pairs[:, 0], pairs[:, 1])
    for k in range(len(pairs)):
        single = backend.compute(pairs[k : k + 1, 0], pairs[k : k + 1, 1])[0]
        np.testing.assert_allclose(batched[k], single, atol=1e-4)


def test_converged_pairs_leave_the_batch(pairs, monkeypatch):
    # the torch loop, eager and short (the C++ one runs each pair on its own)
    backend = TorchTVL1("cpu", variant="cuda", fused=False, compile=False, nscales=2, warps=2)
    sizes = []
    step = backend._step

    def spy(*args):
        sizes.append(args[0].shape[0])
        return step(*args)

    monkeypatch.setattr(backend, "_step", spy)
    flow = backend.compute(pairs[[0, 2], 0], pairs[[0, 2], 1])
    assert not flow[1].any()  # the static pair never moves ...
    assert sizes[:2] == [2, 2] and sizes.count(1) > sizes.count(2)  # ... and stops iterating first


def test_without_epsilon_every_warp_runs_all_iterations(pairs, monkeypatch):
    backend = TorchTVL1("cpu", variant="cuda", epsilon=0.0, iterations=3, warps=2, nscales=2, fused=False)
    calls = []
    step = backend._step
    monkeypatch.setattr(backend, "_step", lambda *args: calls.append(args[0].shape) or step(*args))
    backend.compute(pairs[:2, 0], pairs[:2, 1])
    assert calls == [(2, 77, 96)] * 6 + [(2, 96, 120)] * 6


@pytest.mark.skipif(not compile_available(torch.device("cpu")), reason="torch.compile needs a C++ compiler")
def test_compiled_iteration_matches_eager(pairs):
    short = dict(fused=False, nscales=2, warps=2)  # the torch loop (CUDA's), kept short
    compiled = TorchTVL1("cpu", variant="cuda", compile=True, **short).compute(pairs[:2, 0], pairs[:2, 1])
    eager = TorchTVL1("cpu", variant="cuda", compile=False, **short).compute(pairs[:2, 0], pairs[:2, 1])
    assert epe(compiled, eager) < 1e-3


@pytest.mark.skipif(not compile_available(torch.device("cpu")), reason="torch.compile needs a C++ compiler")
def test_one_compile_per_process_for_every_batch_and_frame_size(pairs):
    from torch._dynamo.utils import counters

    torch._dynamo.reset()  # count from nothing (kernels come from the on-disk cache where earlier runs left them)
    counters.clear()
    backend = TorchTVL1("cpu", variant="cuda", compile=True, fused=False, nscales=2, warps=1, iterations=25)  # the torch loop
    backend.compute(pairs[:2, 0], pairs[:2, 1])
    assert counters["stats"]["unique_graphs"] == 2  # the warp and the iteration, for both pyramid levels
    for n in (1, 3):  # a batch of one, and more pairs, some stopping before the others
        backend.compute(pairs[:n, 0], pairs[:n, 1])
    # another frame size (every level above 4,096 px: Inductor's CPU code guards its sums on that size)
    backend.compute(pairs[:2, 0, :80, :100], pairs[:2, 1, :80, :100])
    assert counters["stats"]["unique_graphs"] == 2, dict(counters["stats"])


def test_a_failing_compilation_falls_back_to_eager_and_says_so_on_one_line(pairs, monkeypatch, capsys):
    def broken(*args):
        raise RuntimeError("no compiler\nmore detail")

    monkeypatch.setattr(tvl1, "_compiled", lambda fn: broken)
    backend = TorchTVL1("cpu", variant="cuda", compile=True, nscales=1, warps=1, iterations=4, fused=False)
    with pytest.warns(UserWarning, match="running eagerly instead"):
        flow = backend.compute(pairs[:1, 0], pairs[:1, 1])
    lines = capsys.readouterr().err.splitlines()
    assert [line for line in lines if "warp failed (no compiler); running eagerly instead (torch eager on cpu" in line]
    assert not [line for line in lines if "more detail" in line]
    assert not backend._step.compiled and not backend._warp.compiled
    eager = TorchTVL1("cpu", variant="cuda", compile=False, nscales=1, warps=1, iterations=4, fused=False).compute(
        pairs[:1, 0], pairs[:1, 1]
    )
    np.testing.assert_array_equal(flow, eager)


def test_params_are_json_and_name_the_backend(backend):
    assert backend.name == "torch" and backend.params()["variant"] == "cuda"  # flow.variant's default
    params = json.loads(json.dumps(TorchTVL1("cpu", variant="cpu").params()))
    assert params["tau"] == 0.25 and params["lambda"] == 0.15 and params["theta"] == 0.3
    assert (params["nscales"], params["warps"], params["variant"]) == (5, 5, "cpu")
    assert (params["inner_iterations"], params["outer_iterations"], params["median_filtering"]) == (30, 10, 5)
    assert TorchTVL1("cpu", variant="cuda").params()["iterations"] == 300
    assert params["epsilon"] == 0.01 and params["scale_step"] == 0.8 and params["gamma"] == 0.0


def test_rejects_frames_that_are_not_matching_uint8_stacks(backend):
    frames = np.zeros((2, 32, 32), np.uint8)
    with pytest.raises(ValueError, match="equal shape"):
        backend.compute(frames, frames[:1])
    with pytest.raises(ValueError, match="uint8"):
        backend.compute(frames.astype(np.float32), frames.astype(np.float32))


def test_compiled_kernels_are_cached_outside_tmp(monkeypatch, tmp_path):
    monkeypatch.delenv("TORCHINDUCTOR_CACHE_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert tvl1.compile_cache() == tmp_path / ".cache" / "twostream" / "inductor"
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "mine"))
    assert tvl1.compile_cache() == tmp_path / "mine"


def test_quantising_on_the_device_is_byte_for_byte_numpys():
    from twostream.data.shards import quantize_flow
    from twostream.flow.base import normalize

    rng = np.random.default_rng(0)
    bound = 20.0
    edges = np.array([(k + 0.5) / 127 * bound for k in range(-128, 128)], np.float32)  # where rounding ties
    flow = np.concatenate([rng.normal(0, 15, 200_000).astype(np.float32), edges, np.nextafter(edges, 0), -edges,
                           np.float32([0.0, -0.0, bound, -bound, 1e9, -1e9])]).reshape(-1, 1, 1, 2)
    expected = quantize_flow(normalize(flow, bound))
    np.testing.assert_array_equal(tvl1.quantize(torch.from_numpy(flow), bound).numpy(), expected)


def test_compute_quantized_is_compute_quantised(pairs):
    from twostream.data.shards import quantize_flow
    from twostream.flow.base import normalize

    backend = TorchTVL1("cpu", variant="cuda", compile=False, fused=False, nscales=2, warps=1)
    flow = backend.compute(pairs[:2, 0], pairs[:2, 1])
    np.testing.assert_array_equal(backend.compute_quantized(pairs[:2, 0], pairs[:2, 1], 1.0),
                                  quantize_flow(normalize(flow, 1.0)))
