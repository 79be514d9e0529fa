"""The TV-L1 iteration on a GPU as Triton kernels: one fused sweep per iteration, the stopping rule on the device.

``TorchTVL1`` runs a warp's iterations here on CUDA (``run_warp``); the kernels compute what
``twostream.flow.tvl1.tvl1_step``, ``median5`` and the stopping rule of ``TorchTVL1._iterate``
compute, in the same order per pixel. Tested on a CPU under Triton's interpreter
(``TRITON_INTERPRET=1``, ``tests/flow/test_tvl1_triton.py``) against the eager torch loop and the
C++ reference.

Per iteration, two launches and no host synchronisation:

* ``_iteration``: one program per tile of BLOCK_H x BLOCK_W pixels of one pair. It computes the new
  u (thresholding and primal step) on the tile and on the tile moved one pixel right and one pixel
  down (the dual step's forward differences need them; the moved tiles' reads hit the cache),
  then the new p, reading (u1, u2, p11, p12, p21, p22) from one set of buffers and writing the
  other (ping-pong: no tile reads what another has already overwritten). Each tile writes its
  share of the pair's change sum |u_new - u|^2 to its own slot (no atomics: the sum is the same
  on every run). A stopped pair's tiles load and store nothing.
* ``_rule``: one program per pair: adds the tiles' shares in a fixed order and applies the variant's
  stopping rule (``cpu``: stop once the change is at most epsilon^2 * area; ``cuda``: OpenCV CUDA's
  measurement on some odd iterations), recording the last iteration that updated the pair.

Memory traffic per pixel-iteration (float32): reads u1, u2, p11, p12, p21, p22, I1wx, I1wy, rho_c
(36 B) and writes u1, u2, p11, p12, p21, p22 (24 B): 60 B; the neighbours' reads are cache hits
(halo of one row and one column per tile: +1/BLOCK_H of the rows, +1/BLOCK_W of the columns, from
L2). ``_median5`` (the ``cpu`` variant, before every ``inner_iterations``-th iteration): reads one
plane, writes one, 8 B a pixel and plane. The host looks at the ``live`` flags every
``check_every`` iterations only, to end the loop; each pair's result is taken at the end from the
buffer its last iteration wrote.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

BLOCK_H, BLOCK_W = 8, 64  # one tile: 512 pixels, 4 warps of 32 threads, 4 pixels each
FLT_EPSILON = 1.1920928955078125e-07


@triton.jit
def _primal(u1_ptr, u2_ptr, p11_ptr, p12_ptr, p21_ptr, p22_ptr, gx_ptr, gy_ptr, rc_ptr, y, x, h, w, go, l_t, theta):
    """(u1, u2) before and after the thresholding and primal step at pixels (y, x) (0 outside the image)."""
    inside = go & (y < h) & (x < w)
    left = inside & (x > 0)
    up = inside & (y > 0)
    off = y * w + x
    u1 = tl.load(u1_ptr + off, mask=inside, other=0.0)
    u2 = tl.load(u2_ptr + off, mask=inside, other=0.0)
    ix = tl.load(gx_ptr + off, mask=inside, other=0.0)
    iy = tl.load(gy_ptr + off, mask=inside, other=0.0)
    rc = tl.load(rc_ptr + off, mask=inside, other=0.0)
    div1 = (tl.load(p11_ptr + off, mask=inside, other=0.0) - tl.load(p11_ptr + off - 1, mask=left, other=0.0)
            + tl.load(p12_ptr + off, mask=inside, other=0.0) - tl.load(p12_ptr + off - w, mask=up, other=0.0))
    div2 = (tl.load(p21_ptr + off, mask=inside, other=0.0) - tl.load(p21_ptr + off - 1, mask=left, other=0.0)
            + tl.load(p22_ptr + off, mask=inside, other=0.0) - tl.load(p22_ptr + off - w, mask=up, other=0.0))
    grad = ix * ix + iy * iy
    rho = rc + ix * u1 + iy * u2
    safe = tl.where(grad > FLT_EPSILON, grad, 1.0)
    c = tl.where(rho < -l_t * grad, l_t,
                 tl.where(rho > l_t * grad, -l_t, tl.where(grad > FLT_EPSILON, -rho / safe, 0.0)))
    return u1, u2, u1 + c * ix + theta * div1, u2 + c * iy + theta * div2


# Integer arguments are not specialised (Triton would compile again for sizes divisible by 16 and for
# the iteration number 1): one compile of each kernel per process, for every level, batch and iteration.
@triton.jit(do_not_specialize=["h", "w"])
def _iteration(u1_ptr, u2_ptr, p11_ptr, p12_ptr, p21_ptr, p22_ptr,
               o1_ptr, o2_ptr, q11_ptr, q12_ptr, q21_ptr, q22_ptr,
               gx_ptr, gy_ptr, rc_ptr, live_ptr, partial_ptr, h, w, l_t, theta, taut,
               BLOCK_H: tl.constexpr, BLOCK_W: tl.constexpr):
    """One TV-L1 iteration on one tile of one pair (see the module docstring)."""
    tx, ty, pair = tl.program_id(0), tl.program_id(1), tl.program_id(2)
    go = tl.load(live_ptr + pair) != 0
    plane = pair.to(tl.int64) * h * w
    y = ty * BLOCK_H + tl.arange(0, BLOCK_H)[:, None]
    x = tx * BLOCK_W + tl.arange(0, BLOCK_W)[None, :]
    ins = (u1_ptr + plane, u2_ptr + plane, p11_ptr + plane, p12_ptr + plane, p21_ptr + plane, p22_ptr + plane,
           gx_ptr + plane, gy_ptr + plane, rc_ptr + plane)
    a1, a2, n1, n2 = _primal(*ins, y, x, h, w, go, l_t, theta)
    _, _, r1, r2 = _primal(*ins, y, x + 1, h, w, go, l_t, theta)  # the right neighbours' new u
    _, _, d1, d2 = _primal(*ins, y + 1, x, h, w, go, l_t, theta)  # the lower neighbours' new u
    inside = go & (y < h) & (x < w)
    off = plane + y * w + x
    ux1 = tl.where(x + 1 < w, r1 - n1, 0.0)
    uy1 = tl.where(y + 1 < h, d1 - n1, 0.0)
    ux2 = tl.where(x + 1 < w, r2 - n2, 0.0)
    uy2 = tl.where(y + 1 < h, d2 - n2, 0.0)
    norm1 = 1.0 + taut * tl.sqrt(ux1 * ux1 + uy1 * uy1)
    norm2 = 1.0 + taut * tl.sqrt(ux2 * ux2 + uy2 * uy2)
    p11 = tl.load(p11_ptr + off, mask=inside, other=0.0)
    p12 = tl.load(p12_ptr + off, mask=inside, other=0.0)
    p21 = tl.load(p21_ptr + off, mask=inside, other=0.0)
    p22 = tl.load(p22_ptr + off, mask=inside, other=0.0)
    tl.store(o1_ptr + off, n1, mask=inside)
    tl.store(o2_ptr + off, n2, mask=inside)
    tl.store(q11_ptr + off, (p11 + taut * ux1) / norm1, mask=inside)
    tl.store(q12_ptr + off, (p12 + taut * uy1) / norm1, mask=inside)
    tl.store(q21_ptr + off, (p21 + taut * ux2) / norm2, mask=inside)
    tl.store(q22_ptr + off, (p22 + taut * uy2) / norm2, mask=inside)
    change = tl.where(inside, (n1 - a1) * (n1 - a1) + (n2 - a2) * (n2 - a2), 0.0)
    tiles = tl.num_programs(0) * tl.num_programs(1)
    tl.store(partial_ptr + pair * tiles + ty * tl.num_programs(0) + tx, tl.sum(tl.sum(change, 1), 0), mask=go)


@triton.jit(do_not_specialize=["tiles", "n"])
def _rule(partial_ptr, last_ptr, live_ptr, final_ptr, tiles, n, threshold, CUDA_RULE: tl.constexpr,
          BLOCK: tl.constexpr):
    """The stopping rule of one pair after iteration ``n``: its change sum from the tiles' shares."""
    pair = tl.program_id(0)
    go = tl.load(live_ptr + pair) != 0
    k = tl.arange(0, BLOCK)
    change = tl.sum(tl.load(partial_ptr + pair * tiles + k, mask=k < tiles, other=0.0), 0)
    if CUDA_RULE:
        last = tl.load(last_ptr + pair)
        measure = go & (n % 2 == 1) & (last < threshold)
        tl.store(last_ptr + pair, tl.where(measure, change, last - threshold))
        stop = measure & (change <= threshold)
    else:
        stop = change <= threshold
    tl.store(final_ptr + pair, n, mask=go)
    tl.store(live_ptr + pair, (go & (stop == 0)).to(tl.int8))


@triton.jit(do_not_specialize=["h", "w"])
def _median5(src_ptr, dst_ptr, live_ptr, h, w, BLOCK_H: tl.constexpr, BLOCK_W: tl.constexpr):
    """5x5 median of one tile of one pair's plane, replicated border (cv::medianBlur, ksize 5): 25 loads,
    then the 113 comparators of the pruned Batcher network that ``tvl1_cpu.cpp`` uses (the 13th smallest)."""
    tx, ty, pair = tl.program_id(0), tl.program_id(1), tl.program_id(2)
    go = tl.load(live_ptr + pair) != 0
    plane = pair.to(tl.int64) * h * w
    y = ty * BLOCK_H + tl.arange(0, BLOCK_H)[:, None]
    x = tx * BLOCK_W + tl.arange(0, BLOCK_W)[None, :]
    inside = go & (y < h) & (x < w)
    src = src_ptr + plane
    r0 = tl.minimum(tl.maximum(y - 2, 0), h - 1) * w
    r1 = tl.minimum(tl.maximum(y - 1, 0), h - 1) * w
    r2 = tl.minimum(tl.maximum(y, 0), h - 1) * w
    r3 = tl.minimum(tl.maximum(y + 1, 0), h - 1) * w
    r4 = tl.minimum(tl.maximum(y + 2, 0), h - 1) * w
    c0 = tl.minimum(tl.maximum(x - 2, 0), w - 1)
    c1 = tl.minimum(tl.maximum(x - 1, 0), w - 1)
    c2 = tl.minimum(tl.maximum(x, 0), w - 1)
    c3 = tl.minimum(tl.maximum(x + 1, 0), w - 1)
    c4 = tl.minimum(tl.maximum(x + 2, 0), w - 1)
    v0 = tl.load(src + r0 + c0, mask=inside, other=0.0)
    v1 = tl.load(src + r0 + c1, mask=inside, other=0.0)
    v2 = tl.load(src + r0 + c2, mask=inside, other=0.0)
    v3 = tl.load(src + r0 + c3, mask=inside, other=0.0)
    v4 = tl.load(src + r0 + c4, mask=inside, other=0.0)
    v5 = tl.load(src + r1 + c0, mask=inside, other=0.0)
    v6 = tl.load(src + r1 + c1, mask=inside, other=0.0)
    v7 = tl.load(src + r1 + c2, mask=inside, other=0.0)
    v8 = tl.load(src + r1 + c3, mask=inside, other=0.0)
    v9 = tl.load(src + r1 + c4, mask=inside, other=0.0)
    v10 = tl.load(src + r2 + c0, mask=inside, other=0.0)
    v11 = tl.load(src + r2 + c1, mask=inside, other=0.0)
    v12 = tl.load(src + r2 + c2, mask=inside, other=0.0)
    v13 = tl.load(src + r2 + c3, mask=inside, other=0.0)
    v14 = tl.load(src + r2 + c4, mask=inside, other=0.0)
    v15 = tl.load(src + r3 + c0, mask=inside, other=0.0)
    v16 = tl.load(src + r3 + c1, mask=inside, other=0.0)
    v17 = tl.load(src + r3 + c2, mask=inside, other=0.0)
    v18 = tl.load(src + r3 + c3, mask=inside, other=0.0)
    v19 = tl.load(src + r3 + c4, mask=inside, other=0.0)
    v20 = tl.load(src + r4 + c0, mask=inside, other=0.0)
    v21 = tl.load(src + r4 + c1, mask=inside, other=0.0)
    v22 = tl.load(src + r4 + c2, mask=inside, other=0.0)
    v23 = tl.load(src + r4 + c3, mask=inside, other=0.0)
    v24 = tl.load(src + r4 + c4, mask=inside, other=0.0)
    v0, v1 = tl.minimum(v0, v1), tl.maximum(v0, v1)
    v2, v3 = tl.minimum(v2, v3), tl.maximum(v2, v3)
    v0, v2 = tl.minimum(v0, v2), tl.maximum(v0, v2)
    v1, v3 = tl.minimum(v1, v3), tl.maximum(v1, v3)
    v1, v2 = tl.minimum(v1, v2), tl.maximum(v1, v2)
    v4, v5 = tl.minimum(v4, v5), tl.maximum(v4, v5)
    v6, v7 = tl.minimum(v6, v7), tl.maximum(v6, v7)
    v4, v6 = tl.minimum(v4, v6), tl.maximum(v4, v6)
    v5, v7 = tl.minimum(v5, v7), tl.maximum(v5, v7)
    v5, v6 = tl.minimum(v5, v6), tl.maximum(v5, v6)
    v0, v4 = tl.minimum(v0, v4), tl.maximum(v0, v4)
    v2, v6 = tl.minimum(v2, v6), tl.maximum(v2, v6)
    v2, v4 = tl.minimum(v2, v4), tl.maximum(v2, v4)
    v1, v5 = tl.minimum(v1, v5), tl.maximum(v1, v5)
    v3, v7 = tl.minimum(v3, v7), tl.maximum(v3, v7)
    v3, v5 = tl.minimum(v3, v5), tl.maximum(v3, v5)
    v1, v2 = tl.minimum(v1, v2), tl.maximum(v1, v2)
    v3, v4 = tl.minimum(v3, v4), tl.maximum(v3, v4)
    v5, v6 = tl.minimum(v5, v6), tl.maximum(v5, v6)
    v8, v9 = tl.minimum(v8, v9), tl.maximum(v8, v9)
    v10, v11 = tl.minimum(v10, v11), tl.maximum(v10, v11)
    v8, v10 = tl.minimum(v8, v10), tl.maximum(v8, v10)
    v9, v11 = tl.minimum(v9, v11), tl.maximum(v9, v11)
    v9, v10 = tl.minimum(v9, v10), tl.maximum(v9, v10)
    v12, v13 = tl.minimum(v12, v13), tl.maximum(v12, v13)
    v14, v15 = tl.minimum(v14, v15), tl.maximum(v14, v15)
    v12, v14 = tl.minimum(v12, v14), tl.maximum(v12, v14)
    v13, v15 = tl.minimum(v13, v15), tl.maximum(v13, v15)
    v13, v14 = tl.minimum(v13, v14), tl.maximum(v13, v14)
    v8, v12 = tl.minimum(v8, v12), tl.maximum(v8, v12)
    v10, v14 = tl.minimum(v10, v14), tl.maximum(v10, v14)
    v10, v12 = tl.minimum(v10, v12), tl.maximum(v10, v12)
    v9, v13 = tl.minimum(v9, v13), tl.maximum(v9, v13)
    v11, v15 = tl.minimum(v11, v15), tl.maximum(v11, v15)
    v11, v13 = tl.minimum(v11, v13), tl.maximum(v11, v13)
    v9, v10 = tl.minimum(v9, v10), tl.maximum(v9, v10)
    v11, v12 = tl.minimum(v11, v12), tl.maximum(v11, v12)
    v13, v14 = tl.minimum(v13, v14), tl.maximum(v13, v14)
    v0, v8 = tl.minimum(v0, v8), tl.maximum(v0, v8)
    v4, v12 = tl.minimum(v4, v12), tl.maximum(v4, v12)
    v4, v8 = tl.minimum(v4, v8), tl.maximum(v4, v8)
    v2, v10 = tl.minimum(v2, v10), tl.maximum(v2, v10)
    v6, v14 = tl.minimum(v6, v14), tl.maximum(v6, v14)
    v6, v10 = tl.minimum(v6, v10), tl.maximum(v6, v10)
    v2, v4 = tl.minimum(v2, v4), tl.maximum(v2, v4)
    v6, v8 = tl.minimum(v6, v8), tl.maximum(v6, v8)
    v10, v12 = tl.minimum(v10, v12), tl.maximum(v10, v12)
    v1, v9 = tl.minimum(v1, v9), tl.maximum(v1, v9)
    v5, v13 = tl.minimum(v5, v13), tl.maximum(v5, v13)
    v5, v9 = tl.minimum(v5, v9), tl.maximum(v5, v9)
    v3, v11 = tl.minimum(v3, v11), tl.maximum(v3, v11)
    v7, v15 = tl.minimum(v7, v15), tl.maximum(v7, v15)
    v7, v11 = tl.minimum(v7, v11), tl.maximum(v7, v11)
    v3, v5 = tl.minimum(v3, v5), tl.maximum(v3, v5)
    v7, v9 = tl.minimum(v7, v9), tl.maximum(v7, v9)
    v11, v13 = tl.minimum(v11, v13), tl.maximum(v11, v13)
    v1, v2 = tl.minimum(v1, v2), tl.maximum(v1, v2)
    v3, v4 = tl.minimum(v3, v4), tl.maximum(v3, v4)
    v5, v6 = tl.minimum(v5, v6), tl.maximum(v5, v6)
    v7, v8 = tl.minimum(v7, v8), tl.maximum(v7, v8)
    v9, v10 = tl.minimum(v9, v10), tl.maximum(v9, v10)
    v11, v12 = tl.minimum(v11, v12), tl.maximum(v11, v12)
    v13, v14 = tl.minimum(v13, v14), tl.maximum(v13, v14)
    v16, v17 = tl.minimum(v16, v17), tl.maximum(v16, v17)
    v18, v19 = tl.minimum(v18, v19), tl.maximum(v18, v19)
    v16, v18 = tl.minimum(v16, v18), tl.maximum(v16, v18)
    v17, v19 = tl.minimum(v17, v19), tl.maximum(v17, v19)
    v17, v18 = tl.minimum(v17, v18), tl.maximum(v17, v18)
    v20, v21 = tl.minimum(v20, v21), tl.maximum(v20, v21)
    v22, v23 = tl.minimum(v22, v23), tl.maximum(v22, v23)
    v20, v22 = tl.minimum(v20, v22), tl.maximum(v20, v22)
    v21, v23 = tl.minimum(v21, v23), tl.maximum(v21, v23)
    v21, v22 = tl.minimum(v21, v22), tl.maximum(v21, v22)
    v16, v20 = tl.minimum(v16, v20), tl.maximum(v16, v20)
    v18, v22 = tl.minimum(v18, v22), tl.maximum(v18, v22)
    v18, v20 = tl.minimum(v18, v20), tl.maximum(v18, v20)
    v17, v21 = tl.minimum(v17, v21), tl.maximum(v17, v21)
    v19, v23 = tl.minimum(v19, v23), tl.maximum(v19, v23)
    v19, v21 = tl.minimum(v19, v21), tl.maximum(v19, v21)
    v17, v18 = tl.minimum(v17, v18), tl.maximum(v17, v18)
    v19, v20 = tl.minimum(v19, v20), tl.maximum(v19, v20)
    v21, v22 = tl.minimum(v21, v22), tl.maximum(v21, v22)
    v16, v24 = tl.minimum(v16, v24), tl.maximum(v16, v24)
    v20, v24 = tl.minimum(v20, v24), tl.maximum(v20, v24)
    v18, v20 = tl.minimum(v18, v20), tl.maximum(v18, v20)
    v22, v24 = tl.minimum(v22, v24), tl.maximum(v22, v24)
    v19, v21 = tl.minimum(v19, v21), tl.maximum(v19, v21)
    v17, v18 = tl.minimum(v17, v18), tl.maximum(v17, v18)
    v19, v20 = tl.minimum(v19, v20), tl.maximum(v19, v20)
    v21, v22 = tl.minimum(v21, v22), tl.maximum(v21, v22)
    v23, v24 = tl.minimum(v23, v24), tl.maximum(v23, v24)
    v0, v16 = tl.minimum(v0, v16), tl.maximum(v0, v16)
    v8, v24 = tl.minimum(v8, v24), tl.maximum(v8, v24)
    v8, v16 = tl.minimum(v8, v16), tl.maximum(v8, v16)
    v4, v20 = tl.minimum(v4, v20), tl.maximum(v4, v20)
    v12, v20 = tl.minimum(v12, v20), tl.maximum(v12, v20)
    v12, v16 = tl.minimum(v12, v16), tl.maximum(v12, v16)
    v2, v18 = tl.minimum(v2, v18), tl.maximum(v2, v18)
    v10, v18 = tl.minimum(v10, v18), tl.maximum(v10, v18)
    v6, v22 = tl.minimum(v6, v22), tl.maximum(v6, v22)
    v6, v10 = tl.minimum(v6, v10), tl.maximum(v6, v10)
    v10, v12 = tl.minimum(v10, v12), tl.maximum(v10, v12)
    v1, v17 = tl.minimum(v1, v17), tl.maximum(v1, v17)
    v9, v17 = tl.minimum(v9, v17), tl.maximum(v9, v17)
    v5, v21 = tl.minimum(v5, v21), tl.maximum(v5, v21)
    v13, v21 = tl.minimum(v13, v21), tl.maximum(v13, v21)
    v13, v17 = tl.minimum(v13, v17), tl.maximum(v13, v17)
    v3, v19 = tl.minimum(v3, v19), tl.maximum(v3, v19)
    v11, v19 = tl.minimum(v11, v19), tl.maximum(v11, v19)
    v7, v23 = tl.minimum(v7, v23), tl.maximum(v7, v23)
    v7, v11 = tl.minimum(v7, v11), tl.maximum(v7, v11)
    v11, v13 = tl.minimum(v11, v13), tl.maximum(v11, v13)
    v11, v12 = tl.minimum(v11, v12), tl.maximum(v11, v12)
    tl.store(dst_ptr + plane + y * w + x, v12, mask=inside)


def run_warp(state: list[torch.Tensor], warped: list[torch.Tensor], *, l_t: float, theta: float, taut: float,
             total: int, median_every: int, threshold: float, cuda_rule: bool, check_every: int
             ) -> list[torch.Tensor]:
    """A warp's iterations of (N, H, W) planes ``state`` = (u1, u2, p11, p12, p21, p22) with the warped
    ``warped`` = (I1wx, I1wy, rho_c), each pair until its stopping rule or ``total`` iterations; returns
    the new state. ``median_every``: median-filter u before every such iteration (0: never)."""
    n, h, w = state[0].shape
    device = state[0].device
    first = [t.contiguous() for t in state]
    second = [torch.empty_like(t) for t in first]
    gx, gy, rc = (t.contiguous() for t in warped)
    filtered = [torch.empty_like(first[0]) for _ in range(2)] if median_every else []
    grid = (triton.cdiv(w, BLOCK_W), triton.cdiv(h, BLOCK_H), n)
    tiles = grid[0] * grid[1]
    partial = torch.zeros(n * tiles, dtype=torch.float32, device=device)
    live = torch.ones(n, dtype=torch.int8, device=device)
    last = torch.zeros(n, dtype=torch.float32, device=device)
    final = torch.zeros(n, dtype=torch.int32, device=device)
    block = triton.next_power_of_2(tiles)
    src, dst = first, second
    for it in range(total):
        u = src[:2]
        if median_every and it % median_every == 0:
            for plane, out in zip(u, filtered):
                _median5[grid](plane, out, live, h, w, BLOCK_H=BLOCK_H, BLOCK_W=BLOCK_W)
            u = filtered
        _iteration[grid](*u, *src[2:], *dst, gx, gy, rc, live, partial, h, w, l_t, theta, taut,
                         BLOCK_H=BLOCK_H, BLOCK_W=BLOCK_W)
        _rule[(n,)](partial, last, live, final, tiles, it, threshold, CUDA_RULE=cuda_rule, BLOCK=block)
        src, dst = dst, src
        if (it + 1) % check_every == 0 and it + 1 < total and not bool(live.any()):
            break
    # iteration k wrote ``second`` when k is even, ``first`` when odd: each pair's result is where its last one wrote
    even = (final % 2 == 0)[:, None, None]
    return [torch.where(even, b, a) for a, b in zip(first, second)]
