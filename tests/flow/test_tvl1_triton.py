"""The Triton TV-L1 kernels (the GPU path), run on the CPU by Triton's interpreter (TRITON_INTERPRET=1):
one iteration against ``tvl1_step``, the median against cv2.medianBlur, whole flows against the C++ reference."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from twostream.flow import native
from twostream.flow.metrics import epe
from twostream.flow.tvl1 import TorchTVL1, tvl1_step

triton = pytest.importorskip("triton", reason="the Triton kernels need the triton package")

REPO = Path(__file__).resolve().parents[2]
L_T, THETA, TAUT = 0.15 * 0.3, 0.3, 0.25 / 0.3
# Triton's interpreter must be chosen before triton is first imported, so the kernel tests run in a
# pytest of their own with TRITON_INTERPRET=1; in the outer run they are skipped with this reason.
INTERPRETED = os.environ.get("TRITON_INTERPRET") == "1"
interpreted = pytest.mark.skipif(not INTERPRETED, reason="run under TRITON_INTERPRET=1 by test_kernels_on_the_cpu")


@pytest.mark.skipif(INTERPRETED, reason="the outer run")
def test_kernels_on_the_cpu():
    env = dict(os.environ, TRITON_INTERPRET="1")
    done = subprocess.run([sys.executable, "-m", "pytest", str(Path(__file__)), "-q", "-x", "-p", "no:cacheprovider"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    passed = re.search(r"(\d+) passed", done.stdout)
    assert passed and int(passed.group(1)) == 7, done.stdout[-2000:]  # every kernel test ran (none skipped)


@pytest.mark.skipif(INTERPRETED, reason="the outer run")
def test_sizes_and_the_iteration_number_are_not_specialised():
    # Triton compiles a kernel again for integer arguments divisible by 16 or equal to 1: levels, batches
    # and iterations would each compile their own. Left unspecialised, each kernel compiles once a process.
    from twostream.flow import tvl1_triton

    def unspecialised(kernel) -> set[str]:
        return {p.name for p in kernel.params if p.do_not_specialize}

    assert unspecialised(tvl1_triton._iteration) == unspecialised(tvl1_triton._median5) == {"h", "w"}
    assert unspecialised(tvl1_triton._rule) == {"tiles", "n"}


@pytest.fixture
def kernels(monkeypatch):
    """``twostream.flow.tvl1_triton`` with tiles large enough that a small frame is one or two programs
    (the interpreter runs each program in Python)."""
    from twostream.flow import tvl1_triton

    monkeypatch.setattr(tvl1_triton, "BLOCK_H", 16)
    return tvl1_triton


def _grid(module, n: int, h: int, w: int) -> tuple[int, int, int]:
    return triton.cdiv(w, module.BLOCK_W), triton.cdiv(h, module.BLOCK_H), n


@interpreted
@pytest.mark.parametrize("block_h", [8, 16])  # the GPU's tiles, and the larger ones the other tests use
def test_one_iteration_is_tvl1_step_and_a_stopped_pair_is_not_touched(kernels, monkeypatch, block_h):
    monkeypatch.setattr(kernels, "BLOCK_H", block_h)
    n, h, w = 2, 19, 70  # tiles cut by the frame's edge in both directions
    gen = torch.Generator().manual_seed(0)
    planes = [torch.randn(n, h, w, generator=gen) for _ in range(9)]
    live = torch.tensor([True, False])
    expected = tvl1_step(*planes, live, L_T, THETA, TAUT)
    out = [torch.full_like(p, 7.0) for p in planes[:6]]
    grid = _grid(kernels, n, h, w)
    partial = torch.full((n * grid[0] * grid[1],), -1.0)
    kernels._iteration[grid](*planes[:6], *out, *planes[6:], live.to(torch.int8), partial, h, w, L_T, THETA, TAUT,
                             BLOCK_H=kernels.BLOCK_H, BLOCK_W=kernels.BLOCK_W)
    for got, want in zip(out, expected[:6]):
        torch.testing.assert_close(got[0], want[0], rtol=0, atol=1e-5)
        assert (got[1] == 7.0).all()  # the stopped pair's planes were neither read nor written
    change = partial.view(n, -1)
    assert torch.isclose(change[0].sum(), expected[6][0], rtol=1e-5) and (change[1] == -1.0).all()


@interpreted
def test_the_median_kernel_is_cv2_median_blur(kernels):
    n, h, w = 2, 21, 75
    planes = torch.from_numpy(np.random.default_rng(1).normal(0, 2, (n, h, w)).astype(np.float32))
    out = torch.zeros_like(planes)
    kernels._median5[_grid(kernels, n, h, w)](planes, out, torch.ones(n, dtype=torch.int8), h, w,
                                              BLOCK_H=kernels.BLOCK_H, BLOCK_W=kernels.BLOCK_W)
    for got, plane in zip(out, planes):
        np.testing.assert_array_equal(got.numpy(), cv2.medianBlur(plane.numpy(), 5))


@interpreted
@pytest.mark.parametrize("variant, bound", [("cuda", 1e-4), ("cpu", 1e-4)])
def test_stopping_rule_on_the_device_ends_each_pair_as_the_torch_loop_does(kernels, variant, bound,
                                                                          translated_texture):
    # a static pair stops after its first measured iteration; the moving one keeps going
    pairs = np.stack([translated_texture(24, 40, (1.3, -0.7), seed=0), translated_texture(24, 40, (0.0, 0.0), seed=1)])
    short = dict(nscales=1, warps=1, iterations=6, inner_iterations=3, outer_iterations=2, epsilon=0.05)
    eager = TorchTVL1("cpu", variant=variant, compile=False, fused=False, **short).compute(pairs[:, 0], pairs[:, 1])
    tri = TorchTVL1("cpu", variant=variant, compile=False, fused=False, triton=True, **short)
    assert tri.params()["implementation"].startswith("triton")
    assert epe(tri.compute(pairs[:, 0], pairs[:, 1]), eager) < bound


@interpreted
@pytest.mark.skipif(native.library() is None, reason="no C++ compiler to build the reference")
@pytest.mark.parametrize("variant", ["cuda", "cpu"])
def test_triton_flow_is_the_cpp_references(kernels, variant, translated_texture):
    pairs = np.stack([translated_texture(24, 40, (1.3, -0.7), seed=0), translated_texture(24, 40, (-0.6, 1.1), seed=1)])
    short = dict(nscales=2, warps=1, iterations=8, inner_iterations=4, outer_iterations=2)
    cpp = TorchTVL1("cpu", variant=variant, **short).compute(pairs[:, 0], pairs[:, 1])
    tri = TorchTVL1("cpu", variant=variant, compile=False, fused=False, triton=True, **short)
    flow = tri.compute(pairs[:, 0], pairs[:, 1])
    assert epe(flow, cpp) < 1e-4  # measured 2e-6 px (4e-6 px with the default schedule at 2 scales, 2 warps)
    assert np.abs(flow).max() > 0.3  # the flow moved
