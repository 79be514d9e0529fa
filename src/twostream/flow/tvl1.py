"""Batched dual TV-L1 optical flow in PyTorch, run as either of OpenCV's two classes runs it.

The algorithm is Zach, Pock and Bischof (2007), "A duality based approach for realtime
TV-L1 optical flow". OpenCV has it twice, and they differ in more than the device;
``variant`` picks which one this backend follows (``twostream.flow.tvl1.VARIANTS``):

``cpu``: ``cv::optflow::DualTVL1OpticalFlow`` (opencv_contrib, modules/optflow/src/tvl1flow.cpp)
  * pyramid: ``cv::resize`` INTER_LINEAR, pixel-centre anchored (source coordinate
    (i + 0.5) / scale - 0.5, clamped), down to a side of 16 px; the flow is resized up
    the same way and scaled by 1 / scale_step;
  * warp: ``cv::remap`` INTER_CUBIC: Keys' kernel with a = -0.75, zeros outside the
    image (exact coordinates: OpenCV 5's remap of float maps does not round them to
    1/32 px as older releases did; ``tests/flow/test_tvl1.py`` checks against cv2.remap);
  * per warp: up to ``outer_iterations`` (10) rounds of a 5x5 median filter of the flow
    (replicated border) followed by up to ``inner_iterations`` (30) iterations; the
    change sum |u_new - u|^2 is measured every iteration and both loops stop once it is
    at most epsilon^2 * area.

``cuda``: ``cv::cuda::OpticalFlowDual_TVL1`` (opencv_contrib, modules/cudaoptflow), the class the
  two-stream papers extracted with:
  * pyramid: bilinear, corner anchored (source coordinate i / scale), no pre-blur;
  * warp: exact coordinates, Keys' kernel with a = -0.5, replicated border;
  * per warp: up to ``iterations`` (300) iterations, no median filter; the change is
    measured only on some odd iterations (one measurement skipped for every
    epsilon^2 * area the last one exceeded the threshold).

Common to both: centred-difference gradients of I1 (replicated border); the dual
variable p reset to zero at each level and kept across warps; thresholding step;
u = v + theta * div p (backward differences, p = 0 outside); Chambolle's semi-implicit
dual step p = (p + tau/theta grad u) / (1 + tau/theta |grad u|) (forward differences,
zero past the last row and column).

A batch of pairs runs as one set of tensors. Each pair stops by its own rule on the
device (a stopped pair's planes are frozen by a mask inside the iteration), so the host
waits for the device only every ``CHECK_EVERY`` iterations, to end the loop once every
pair has stopped and to drop stopped pairs from the batch; each pair's result does not
depend on its batch. The iteration and the warp are pure functions; where
``torch.compile`` works they are compiled (one fused loop each on CPU, Triton kernels on
CUDA), otherwise they run eagerly. On a CPU the whole flow runs by default in C++
(``twostream.flow.native``: the same operations, each iteration one fused sweep, each pair
on one thread and pairs in parallel), ~20x faster than this loop driven from Python.
"""

from __future__ import annotations

import functools
import os
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch._dynamo.decorators import mark_unbacked

from twostream.flow import native
from twostream.flow.native import compile_cache
from twostream.flow.base import FlowBackend, check_pairs

MIN_SIDE = 16  # OpenCV stops building the pyramid before a side drops below this
# Pairs per batch on CPU: at 256x340 a pair adds 30-40 MB to peak RSS (benchmarks/flow.py),
# and small batches run no slower per pixel there (their planes stay in cache).
CPU_BATCH = 8
CHECK_EVERY = 10  # iterations between the host's looks at which pairs have stopped
FLT_EPSILON = float(np.finfo(np.float32).eps)
VARIANTS = ("cpu", "cuda")


@dataclass(frozen=True)
class Scheme:
    """What the two OpenCV classes do differently (see the module docstring)."""

    centred_resize: bool  # pyramid resizing anchored at pixel centres (cv::resize) or corners (CUDA)
    cubic_a: float  # Keys' kernel parameter of the warp
    quantum: float  # warp coordinates rounded to 1/quantum px (0: exact)
    zero_border: bool  # warp samples zeros outside the image (else the border is replicated)
    median: bool  # median-filter the flow before each outer iteration; measure every iteration


SCHEMES = {
    "cpu": Scheme(centred_resize=True, cubic_a=-0.75, quantum=0.0, zero_border=True, median=True),
    "cuda": Scheme(centred_resize=False, cubic_a=-0.5, quantum=0.0, zero_border=False, median=False),
}

Step = Callable[..., tuple[torch.Tensor, ...]]


def pyramid_sizes(height: int, width: int, nscales: int, scale_step: float) -> list[tuple[int, int]]:
    """(H, W) of each pyramid level, finest first, as OpenCV sizes them (rounded)."""
    sizes = [(height, width)]
    while len(sizes) < nscales:
        h, w = sizes[-1]
        h, w = round(h * scale_step), round(w * scale_step)
        if h < MIN_SIDE or w < MIN_SIDE:
            break
        sizes.append((h, w))
    return sizes


def _sample_axis(
    size_in: int, size_out: int, step: float, centred: bool, device: torch.device
) -> tuple[torch.Tensor, ...]:
    """Indices and weights of linear interpolation at source coordinates i * step (corner anchored)
    or (i + 0.5) * step - 0.5 (centre anchored, clamped at 0 as cv::resize does)."""
    pos = torch.arange(size_out, device=device, dtype=torch.float64)
    pos = ((pos + 0.5) * step - 0.5).clamp(min=0.0) if centred else pos * step
    lo = pos.floor()
    frac = (pos - lo).float()
    lo = lo.long().clamp(0, size_in - 1)
    hi = (lo + 1).clamp(max=size_in - 1)
    return lo, hi, frac


def resize_linear(
    x: torch.Tensor, size: tuple[int, int], step: tuple[float, float], centred: bool = False
) -> torch.Tensor:
    """Bilinear resize of (..., H, W) to ``size``, the source sampled at steps ``step`` = (y, x) (see _sample_axis)."""
    (h, w), (sy, sx) = size, step
    y0, y1, fy = _sample_axis(x.shape[-2], h, sy, centred, x.device)
    x0, x1, fx = _sample_axis(x.shape[-1], w, sx, centred, x.device)
    rows = torch.lerp(x[..., y0, :], x[..., y1, :], fy[:, None])
    return torch.lerp(rows[..., x0], rows[..., x1], fx)


def centred_gradient(img: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Centred differences (x, y) of (N, H, W) images with a replicated border."""
    pad = F.pad(img[:, None], (1, 1, 1, 1), mode="replicate")[:, 0]
    gx = 0.5 * (pad[:, 1:-1, 2:] - pad[:, 1:-1, :-2])
    gy = 0.5 * (pad[:, 2:, 1:-1] - pad[:, :-2, 1:-1])
    return gx, gy


def _keys(dist: torch.Tensor, a: float) -> torch.Tensor:
    """Keys' cubic convolution kernel with parameter ``a`` at distances in [0, 2]."""
    near = ((a + 2.0) * dist - (a + 3.0)) * dist * dist + 1.0
    far = ((a * dist - 5.0 * a) * dist + 8.0 * a) * dist - 4.0 * a
    return torch.where(dist <= 1.0, near, far)


def pad_sources(src: torch.Tensor, zero_border: bool) -> torch.Tensor:
    """(N, C, H, W) planes padded by 2 px (zeros, or the border replicated) for ``warp``."""
    return F.pad(src, (2, 2, 2, 2), mode="constant" if zero_border else "replicate")


def warp(
    padded: torch.Tensor, i0: torch.Tensor, u1: torch.Tensor, u2: torch.Tensor, a: float, quantum: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The warp of one TV-L1 warping step, in one pass over the pixels.

    ``padded`` holds I1 and its gradients (N, 3, H + 4, W + 4) (``pad_sources``); each is
    sampled bicubically at (x + u1, y + u2) (coordinates rounded to 1/``quantum`` px
    unless it is 0; Keys' kernel ``a``). Taps beyond the padding read its outermost
    pixel, so a zero padding gives zeros outside the image and a replicated one the
    replicated border. Returns I1w's gradients and rho_c = I1w - grad I1w . u - I0.
    """
    n, c, hp, wp = padded.shape
    h, w = hp - 4, wp - 4
    px = torch.arange(w, device=u1.device, dtype=torch.float32) + u1
    py = torch.arange(h, device=u1.device, dtype=torch.float32)[:, None] + u2
    if quantum:
        px, py = torch.round(px * quantum) / quantum, torch.round(py * quantum) / quantum
    bx, by = px.floor(), py.floor()
    fx, fy = px - bx, py - by
    bx, by = bx.long() + 2, by.long() + 2  # padded coordinates of the tap at offset 0
    wx = [_keys(fx + 1.0, a), _keys(fx, a), _keys(1.0 - fx, a), _keys(2.0 - fx, a)]
    wy = [_keys(fy + 1.0, a), _keys(fy, a), _keys(1.0 - fy, a), _keys(2.0 - fy, a)]
    cols = [(bx + k).clamp(0, wp - 1) for k in (-1, 0, 1, 2)]
    rows = [(by + k).clamp(0, hp - 1) * wp for k in (-1, 0, 1, 2)]
    flat = padded.reshape(n, c, hp * wp)
    out = []
    for ch in range(c):
        plane = flat[:, ch]
        acc = torch.zeros_like(u1)
        for row, wr in zip(rows, wy):
            line = torch.zeros_like(u1)
            for col, wc in zip(cols, wx):
                line = line + wc * plane.gather(1, (row + col).reshape(n, h * w)).reshape(n, h, w)
            acc = acc + wr * line
        out.append(acc)
    i1w, i1wx, i1wy = out
    return i1wx, i1wy, i1w - i1wx * u1 - i1wy * u2 - i0


def median5(x: torch.Tensor) -> torch.Tensor:
    """5x5 median of (N, H, W) planes with a replicated border (cv::medianBlur, ksize 5)."""
    n, h, w = x.shape
    pad = F.pad(x[:, None], (2, 2, 2, 2), mode="replicate")
    return F.unfold(pad, 5).median(dim=1).values.reshape(n, h, w)


def _divergence(px: torch.Tensor, py: torch.Tensor) -> torch.Tensor:
    """Divergence of (px, py) with backward differences, p = 0 outside the image."""
    return px - F.pad(px[..., :-1], (1, 0)) + py - F.pad(py[..., :-1, :], (0, 0, 1, 0))


def _dual_step(
    u: torch.Tensor, px: torch.Tensor, py: torch.Tensor, taut: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Chambolle's semi-implicit step for the dual of one flow component (forward differences)."""
    ux = F.pad(u[..., 1:] - u[..., :-1], (0, 1))
    uy = F.pad(u[..., 1:, :] - u[..., :-1, :], (0, 0, 0, 1))
    norm = 1.0 + taut * torch.sqrt(ux * ux + uy * uy)
    return (px + taut * ux) / norm, (py + taut * uy) / norm


def tvl1_step(
    u1: torch.Tensor,
    u2: torch.Tensor,
    p11: torch.Tensor,
    p12: torch.Tensor,
    p21: torch.Tensor,
    p22: torch.Tensor,
    i1wx: torch.Tensor,
    i1wy: torch.Tensor,
    rho_c: torch.Tensor,
    live: torch.Tensor,
    l_t: float,
    theta: float,
    taut: float,
) -> tuple[torch.Tensor, ...]:
    """One TV-L1 iteration on (N, H, W) planes, applied to the pairs where ``live`` (N,) is true.

    Returns the new (u1, u2, p11, p12, p21, p22) (a stopped pair's unchanged) and each
    pair's change sum |u_new - u|^2, (N,). ``i1wx``, ``i1wy`` are the gradients of I1
    warped by the flow u0 of this warp and ``rho_c = I1w - grad I1w . u0 - I0``.
    """
    grad = i1wx * i1wx + i1wy * i1wy
    rho = rho_c + i1wx * u1 + i1wy * u2
    # Thresholding: v = u + c grad I1w, c minimising the linearised data term plus the coupling.
    c = torch.where(
        rho < -l_t * grad,
        l_t,
        torch.where(rho > l_t * grad, -l_t, torch.where(grad > FLT_EPSILON, -rho / grad, 0.0)),
    )
    u1_new = u1 + c * i1wx + theta * _divergence(p11, p12)
    u2_new = u2 + c * i1wy + theta * _divergence(p21, p22)
    change = ((u1_new - u1).square() + (u2_new - u2).square()).sum((1, 2))
    q11, q12 = _dual_step(u1_new, p11, p12, taut)
    q21, q22 = _dual_step(u2_new, p21, p22, taut)
    keep = live[:, None, None]
    new = [torch.where(keep, a, b) for a, b in zip((u1_new, u2_new, q11, q12, q21, q22), (u1, u2, p11, p12, p21, p22))]
    return (*new, change)


def compile_available(device: torch.device) -> bool:
    """Whether torch.compile can be tried for this device (Triton on CUDA, a C++ compiler on CPU)."""
    if device.type == "cuda":
        try:
            import triton  # noqa: F401
        except ImportError:
            return False
        return True
    try:
        from torch._inductor import cpp_builder

        cpp_builder.get_cpp_compiler()
    except Exception:  # no usable C++ compiler on this machine
        return False
    return True


@functools.cache
def _compiled(fn: Step) -> Step:
    """``fn`` compiled once per process, for any batch and image size (kernels cached in ``compile_cache()``)."""
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(compile_cache())
    return torch.compile(fn, dynamic=True)


class _Compiled:
    """A pure function, compiled where possible; falls back to eager for good if compiling fails, saying so
    on one line of stderr (and as a warning)."""

    def __init__(self, fn: Step, compile: bool, batched: int) -> None:
        self.fn, self.compiled, self.batched = fn, compile, batched
        self._marked = False

    def __call__(self, *args: Any) -> tuple[torch.Tensor, ...]:
        if self.compiled:
            try:
                if not self._marked:  # one graph for every batch size, a batch of one included;
                    for t in args[: self.batched]:  # later calls match it unmarked (marking costs ~0.3 ms)
                        mark_unbacked(t, 0)
                    self._marked = True
                return _compiled(self.fn)(*args)
            except Exception as exc:  # a missing or broken toolchain; eager computes the same thing
                reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
                message = (f"torch.compile of the TV-L1 {self.fn.__name__} failed ({reason}); running eagerly "
                           f"instead (torch eager on {args[0].device.type}, ~10x slower)")
                print(f"twostream: {message}", file=sys.stderr, flush=True)
                warnings.warn(message, stacklevel=2)
                self.compiled = False
        return self.fn(*args)


def quantize(flow: torch.Tensor, bound: float) -> torch.Tensor:
    """``quantize_flow(normalize(flow, bound))`` (``twostream.data.shards``, ``twostream.flow.base``) on the
    flow's device, the same float32 operations in the same order, so byte for byte numpy's result (the
    bound a tensor, not a scalar: CUDA divides by a scalar as a multiplication by its reciprocal)."""
    limit = torch.tensor(bound, dtype=torch.float32, device=flow.device)
    scaled = torch.clamp(flow, -limit, limit) / limit
    return (torch.round(torch.clamp(scaled, -1.0, 1.0) * 127.0) + 128.0).to(torch.uint8)


class TorchTVL1(FlowBackend):
    """Dual TV-L1 flow for batches of pairs in PyTorch (CPU or CUDA), as OpenCV's ``variant`` class computes it.

    ``variant`` (``flow.variant``, no default here: the schema holds it); the other parameters default to
    OpenCV's; ``iterations`` applies to the ``cuda`` variant,
    ``inner_iterations``, ``outer_iterations`` and ``median_filtering`` to the ``cpu`` one.
    ``batch_size`` bounds the pairs computed at once (None: ``CPU_BATCH`` on CPU, all pairs
    of a call on CUDA); ``compile`` None compiles where ``compile_available`` says it can;
    ``fused`` None computes on a CPU in C++ (``twostream.flow.native``: the same algorithm,
    each iteration one fused sweep, pairs in parallel) where it builds; False: in torch.
    ``triton`` None runs the iterations as Triton kernels on CUDA (``twostream.flow.tvl1_triton``:
    one fused sweep an iteration, the stopping rule on the device); True elsewhere too (a CPU
    under ``TRITON_INTERPRET=1``: how the tests check the kernels). With the ``cuda`` variant the warp replicates the border, so flow where content leaves
    the frame can grow large; clip it (``normalize``) before use.
    """

    name = "torch"

    def __init__(
        self,
        device: str | torch.device = "cpu",
        *,
        variant: str,
        tau: float = 0.25,
        lambda_: float = 0.15,
        theta: float = 0.3,
        nscales: int = 5,
        warps: int = 5,
        epsilon: float = 0.01,
        iterations: int = 300,
        inner_iterations: int = 30,
        outer_iterations: int = 10,
        median_filtering: int = 5,
        scale_step: float = 0.8,
        batch_size: int | None = None,
        compile: bool | None = None,
        fused: bool | None = None,
        triton: bool | None = None,
    ) -> None:
        if variant not in SCHEMES:
            raise ValueError(f"unknown TV-L1 variant {variant!r}; choose from {', '.join(VARIANTS)}")
        if variant == "cpu" and median_filtering not in (1, 5):
            raise ValueError(f"median_filtering {median_filtering}: only 5 (OpenCV's default) or 1 (off)")
        self.device = torch.device(device)
        self.variant, self.scheme = variant, SCHEMES[variant]
        self.tau, self.lambda_, self.theta = tau, lambda_, theta
        self.nscales, self.warps, self.epsilon = nscales, warps, epsilon
        self.iterations, self.scale_step = iterations, scale_step
        self.inner_iterations, self.outer_iterations = inner_iterations, outer_iterations
        self.median_filtering = median_filtering
        self.batch_size = batch_size
        compile = compile_available(self.device) if compile is None else compile
        self._step = _Compiled(tvl1_step, compile, 10)
        self._warp = _Compiled(warp, compile, 4)
        if fused is None:
            fused = self.device.type == "cpu" and native.library() is not None
        if fused and (self.device.type != "cpu" or self.scheme.quantum):
            raise ValueError("the C++ TV-L1 (fused) runs on a CPU with exact warp coordinates only")
        self.fused = fused
        # the iterations as Triton kernels (twostream.flow.tvl1_triton): on CUDA where Triton imports
        self.triton = (not fused and self.device.type == "cuda" and compile_available(self.device)) if (
            triton is None) else triton

    def params(self) -> dict[str, Any]:
        common = {
            "variant": self.variant,
            "tau": self.tau,
            "lambda": self.lambda_,
            "theta": self.theta,
            "nscales": self.nscales,
            "warps": self.warps,
            "epsilon": self.epsilon,
            "scale_step": self.scale_step,
            "gamma": 0.0,
            "dtype": "float32",
            "torch": torch.__version__,
            "implementation": "c++ (twostream.flow.native)" if self.fused else (
                "triton (twostream.flow.tvl1_triton)" if self.triton else "torch"),
        }
        if self.variant == "cpu":
            return {**common, "inner_iterations": self.inner_iterations, "outer_iterations": self.outer_iterations,
                    "median_filtering": self.median_filtering, "stopping": "opencv-cpu rule, per pair"}
        return {**common, "iterations": self.iterations, "stopping": "opencv-cuda schedule, per pair"}

    def compute(self, prev: np.ndarray, nxt: np.ndarray) -> np.ndarray:
        check_pairs(prev, nxt)
        if self.fused:  # numpy in and out: on a busy CPU every torch op costs
            out, step = np.empty(prev.shape + (2,), np.float32), self._batch(prev)
            for start in range(0, prev.shape[0], step):
                end = start + step
                out[start:end] = native.flow_arrays(prev[start:end], nxt[start:end], self.native_params())[0].transpose(0, 2, 3, 1)
            return out
        return self._batches(prev, nxt, lambda flow: flow, np.float32)

    def _batch(self, prev: np.ndarray) -> int:
        return self.batch_size or (CPU_BATCH if self.device.type == "cpu" else max(1, prev.shape[0]))

    def _batches(self, prev: np.ndarray, nxt: np.ndarray, finish: Callable[[torch.Tensor], torch.Tensor],
                 dtype: type) -> np.ndarray:
        """(N, H, W, 2) ``finish(flow)`` of every batch of pairs, computed in torch on the device."""
        check_pairs(prev, nxt)
        out = np.empty(prev.shape + (2,), dtype)
        step = self._batch(prev)
        for start in range(0, prev.shape[0], step):
            a, b = prev[start:start + step], nxt[start:start + step]
            count = len(a)
            if count == 1 and self._warp.compiled:  # batches bucketed to >= 2 pairs: a batch of one would
                a, b = np.repeat(a, 2, 0), np.repeat(b, 2, 0)  # specialise the compiled warp (a second compile)
            with torch.inference_mode():  # every tensor made inside: compiled graphs see one kind of tensor
                i0 = torch.from_numpy(np.ascontiguousarray(a)).to(self.device).float()
                i1 = torch.from_numpy(np.ascontiguousarray(b)).to(self.device).float()
                flow = finish(self.flow(i0, i1)[:count])
            out[start:start + count] = flow.permute(0, 2, 3, 1).cpu().numpy()
        return out

    def compute_quantized(self, prev: np.ndarray, nxt: np.ndarray, bound: float) -> np.ndarray:
        if self.fused:
            return super().compute_quantized(prev, nxt, bound)
        return self._batches(prev, nxt, lambda flow: quantize(flow, bound), np.uint8)

    def flow(self, i0: torch.Tensor, i1: torch.Tensor) -> torch.Tensor:
        """Flow (N, 2, H, W) from float32 (N, H, W) frames in 0..255 on one device."""
        if self.fused:
            return torch.from_numpy(native.flow_arrays(i0.cpu().numpy(), i1.cpu().numpy(), self.native_params())[0])
        centred = self.scheme.centred_resize
        sizes = pyramid_sizes(i0.shape[1], i0.shape[2], self.nscales, self.scale_step)
        down = (1.0 / self.scale_step, 1.0 / self.scale_step)
        levels = [(i0, i1)]
        for size in sizes[1:]:
            levels.append(tuple(resize_linear(img, size, down, centred) for img in levels[-1]))
        u = [torch.zeros((i0.shape[0],) + sizes[-1], device=i0.device) for _ in range(2)]
        for s in range(len(sizes) - 1, -1, -1):
            if s < len(sizes) - 1:
                (h, w), (hc, wc) = sizes[s], sizes[s + 1]
                u = [resize_linear(c, (h, w), (hc / h, wc / w), centred) / self.scale_step for c in u]
            u = self._level(*levels[s], *u)
        return torch.stack(u, 1)

    def _level(
        self, i0: torch.Tensor, i1: torch.Tensor, u1: torch.Tensor, u2: torch.Tensor
    ) -> list[torch.Tensor]:
        """Refine the flow (u1, u2) at one pyramid level: ``warps`` warps of the iteration."""
        i1x, i1y = centred_gradient(i1)
        padded = pad_sources(torch.stack((i1, i1x, i1y), 1), self.scheme.zero_border)
        dual = [torch.zeros_like(u1) for _ in range(4)]  # p11, p12, p21, p22
        for _ in range(self.warps):
            warped = self._warp(padded, i0, u1, u2, self.scheme.cubic_a, self.scheme.quantum)
            iterate = self._iterate_triton if self.triton else self._iterate
            u1, u2, *dual = iterate([u1, u2, *dual], list(warped))
        return [u1, u2]

    def native_params(self) -> native.Params:
        """This backend's settings as the C++ TV-L1 (``twostream.flow.native``) takes them."""
        total, median_every = self._schedule()
        return native.Params(self.tau, self.lambda_, self.theta, self.nscales, self.warps, self.epsilon,
                             self.scale_step, total, median_every, self.variant == "cuda",
                             self.scheme.centred_resize, self.scheme.zero_border, self.scheme.cubic_a)

    def _schedule(self) -> tuple[int, int]:
        """(iterations per warp at most, iterations between median filterings (0: none))."""
        if self.variant == "cpu":
            median = self.inner_iterations if self.median_filtering > 1 else 0
            return self.inner_iterations * self.outer_iterations, median
        return self.iterations, 0

    def _iterate_triton(self, variables: list[torch.Tensor], warped: list[torch.Tensor]) -> list[torch.Tensor]:
        """``_iterate`` as Triton kernels: one fused sweep an iteration, the stopping rule on the device."""
        from twostream.flow import tvl1_triton

        _, h, w = variables[0].shape
        total, median_every = self._schedule()
        return tvl1_triton.run_warp(variables, warped, l_t=self.lambda_ * self.theta, theta=self.theta,
                                    taut=self.tau / self.theta, total=total, median_every=median_every,
                                    threshold=self.epsilon**2 * h * w, cuda_rule=self.variant == "cuda",
                                    check_every=CHECK_EVERY)

    def _iterate(self, variables: list[torch.Tensor], warped: list[torch.Tensor]) -> list[torch.Tensor]:
        """Iterate one warp until each pair stops; returns the final (u1, u2, p11, p12, p21, p22).

        Each pair's stopping rule runs on the device (``live``); every ``CHECK_EVERY``
        iterations the host ends the loop once no pair is live and drops stopped pairs
        from the batch (copying their planes out), so the batch shrinks as pairs converge.
        """
        n_pairs, h, w = variables[0].shape
        threshold = self.epsilon**2 * h * w
        l_t, taut = self.lambda_ * self.theta, self.tau / self.theta
        total, median_every = self._schedule()
        out = [torch.empty_like(v) for v in variables]
        rows = torch.arange(n_pairs, device=self.device)  # the batch index of each pair still in the batch
        live = torch.ones(n_pairs, dtype=torch.bool, device=self.device)
        last = torch.zeros(n_pairs, device=self.device)  # cuda schedule: last measurement, less threshold since
        state = variables + warped
        for n in range(total):
            if median_every and n % median_every == 0:
                state[:2] = [torch.where(live[:, None, None], median5(u), u) for u in state[:2]]
            *new, change = self._step(*state, live, l_t, self.theta, taut)
            state[: len(new)] = new
            if self.variant == "cpu":
                live = live & (change > threshold)
            else:
                measure = live & (n % 2 == 1) & (last < threshold)
                last = torch.where(measure, change, last - threshold)
                live = live & ~(measure & (change <= threshold))
            if (n + 1) % CHECK_EVERY == 0 and n + 1 < total:
                stopped = ~live
                if bool(stopped.any()):
                    keep = torch.nonzero(live)[:, 0]
                    done = torch.nonzero(stopped)[:, 0]
                    for dst, src in zip(out, state[: len(out)]):
                        dst[rows[done]] = src[done]
                    if not len(keep):
                        return out
                    state, rows, live, last = [t[keep] for t in state], rows[keep], live[keep], last[keep]
        for dst, src in zip(out, state[: len(out)]):
            dst[rows] = src
        return out
