"""Batched dual TV-L1 optical flow in PyTorch, run as OpenCV's CUDA class runs it.

The algorithm is Zach, Pock and Bischof (2007), "A duality based approach for realtime
TV-L1 optical flow", in the form of ``cv::cuda::OpticalFlowDual_TVL1`` (the flow the
two-stream papers extracted):

* pyramid: each level is the previous one resized by ``scale_step`` with bilinear
  interpolation and no pre-blur (OpenCV CUDA's corner-anchored sampling, source
  coordinate = destination coordinate / scale), down to a side of 16 px;
* per level: centred-difference gradients of I1 (replicated border), dual variable
  p reset to zero, flow from the coarser level resized and scaled by 1 / scale_step;
* per warp: I1 and its gradients sampled at x + u with Keys' bicubic kernel
  (a = -0.5, replicated border), then the fixed-point iteration: thresholding step,
  u = v + theta * div p (backward differences, p = 0 outside), and Chambolle's
  semi-implicit dual step p = (p + tau/theta grad u) / (1 + tau/theta |grad u|)
  (forward differences, zero past the last row and column);
* stopping: OpenCV CUDA measures sum |u_new - u_old|^2 only on some odd iterations
  (it skips a measurement for every epsilon^2 * area the last one exceeded the
  threshold) and stops a warp when a measurement is at most epsilon^2 * area, or
  after ``iterations`` iterations. This module keeps that schedule per pair.

A batch of pairs runs as one set of tensors. Pairs leave the batch as they converge
(the tensors are compacted), so each pair's result does not depend on its batch.
The iteration is one pure function; where ``torch.compile`` works it is compiled
(fused into a few loops on CPU, Triton kernels on CUDA), otherwise it runs eagerly.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch._dynamo.decorators import mark_unbacked

from twostream.flow.base import FlowBackend, check_pairs

MIN_SIDE = 16  # OpenCV stops building the pyramid before a side drops below this
# Pairs per batch on CPU: at 256x340 a pair adds 30-40 MB to peak RSS (benchmarks/flow.py),
# and small batches run no slower per pixel there (their planes stay in cache).
CPU_BATCH = 8
FLT_EPSILON = float(np.finfo(np.float32).eps)

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


def _sample_axis(size_in: int, size_out: int, step: float, device: torch.device) -> tuple[torch.Tensor, ...]:
    """Indices and weights of linear interpolation at source coordinates i * step."""
    pos = torch.arange(size_out, device=device, dtype=torch.float32) * step
    lo = pos.floor()
    frac = pos - lo
    lo = lo.long().clamp(0, size_in - 1)
    hi = (lo + 1).clamp(max=size_in - 1)
    return lo, hi, frac


def resize_linear(x: torch.Tensor, size: tuple[int, int], step: tuple[float, float]) -> torch.Tensor:
    """Bilinear resize of (..., H, W) to ``size``, sampling the source at (i * step_y, j * step_x)."""
    (h, w), (sy, sx) = size, step
    y0, y1, fy = _sample_axis(x.shape[-2], h, sy, x.device)
    x0, x1, fx = _sample_axis(x.shape[-1], w, sx, x.device)
    rows = torch.lerp(x[..., y0, :], x[..., y1, :], fy[:, None])
    return torch.lerp(rows[..., x0], rows[..., x1], fx)


def centred_gradient(img: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Centred differences (x, y) of (N, H, W) images with a replicated border."""
    pad = F.pad(img[:, None], (1, 1, 1, 1), mode="replicate")[:, 0]
    gx = 0.5 * (pad[:, 1:-1, 2:] - pad[:, 1:-1, :-2])
    gy = 0.5 * (pad[:, 2:, 1:-1] - pad[:, :-2, 1:-1])
    return gx, gy


def _keys(dist: torch.Tensor) -> torch.Tensor:
    """Keys' cubic convolution kernel with a = -0.5 at distances in [0, 2]."""
    near = (1.5 * dist - 2.5) * dist * dist + 1.0
    far = ((-0.5 * dist + 2.5) * dist - 4.0) * dist + 2.0
    return torch.where(dist <= 1.0, near, far)


def _cubic_taps(pos: torch.Tensor, size: int) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Clamped indices and Keys weights of the four taps around each coordinate."""
    base = pos.floor()
    frac = pos - base
    base = base.long()
    index = [(base + k).clamp(0, size - 1) for k in (-1, 0, 1, 2)]
    weight = [_keys(frac + 1.0), _keys(frac), _keys(1.0 - frac), _keys(2.0 - frac)]
    return index, weight


def warp_bicubic(src: torch.Tensor, dx: torch.Tensor, dy: torch.Tensor) -> list[torch.Tensor]:
    """Sample each channel of (N, C, H, W) ``src`` at (x + dx, y + dy), bicubic, replicated border.

    Returns C separate (N, H, W) tensors (not views of one, so the compiled iteration
    sees the same memory layout whatever the batch).
    """
    n, c, h, w = src.shape
    ys = torch.arange(h, device=src.device, dtype=torch.float32)[:, None]
    xs = torch.arange(w, device=src.device, dtype=torch.float32)
    xi, xw = _cubic_taps(xs + dx, w)
    yi, yw = _cubic_taps(ys + dy, h)
    flat = src.reshape(n, c, h * w)
    out = torch.zeros_like(flat)
    for row, wy in zip(yi, yw):
        for col, wx in zip(xi, xw):
            index = (row * w + col).reshape(n, 1, h * w).expand(n, c, h * w)
            out += (wy * wx).reshape(n, 1, h * w) * flat.gather(2, index)
    return [plane.clone(memory_format=torch.contiguous_format) for plane in out.reshape(n, c, h, w).unbind(1)]


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
    l_t: float,
    theta: float,
    taut: float,
) -> tuple[torch.Tensor, ...]:
    """One TV-L1 iteration on (N, H, W) planes.

    Returns the new (u1, u2, p11, p12, p21, p22) and the change sum |u_new - u|^2 of
    each row of each pair, (N, H). ``i1wx``, ``i1wy`` are the gradients of I1 warped by the flow u0 of this warp and
    ``rho_c = I1w - grad I1w . u0 - I0``, the constant part of the linearised residual.
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
    change = ((u1_new - u1).square() + (u2_new - u2).square()).sum(2)
    p11, p12 = _dual_step(u1_new, p11, p12, taut)
    p21, p22 = _dual_step(u2_new, p21, p22, taut)
    return u1_new, u2_new, p11, p12, p21, p22, change


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
def _compiled_step() -> Step:
    """``tvl1_step`` compiled once per process, for any batch and image size."""
    return torch.compile(tvl1_step, dynamic=True)


class _Step:
    """The iteration, compiled where possible; falls back to eager for good if compiling fails."""

    def __init__(self, compile: bool) -> None:
        self.compiled = compile
        self._marked = False

    def __call__(self, *args: Any) -> tuple[torch.Tensor, ...]:
        if self.compiled:
            try:
                if not self._marked:  # one graph for every batch size, a batch of one included;
                    for t in args[:9]:  # later calls match it unmarked (marking costs ~0.3 ms)
                        mark_unbacked(t, 0)
                    self._marked = True
                return _compiled_step()(*args)
            except Exception as exc:  # a missing or broken toolchain; eager computes the same thing
                warnings.warn(
                    f"torch.compile of the TV-L1 iteration failed, running eagerly: {exc}", stacklevel=2
                )
                self.compiled = False
        return tvl1_step(*args)


class TorchTVL1(FlowBackend):
    """Dual TV-L1 flow for batches of pairs in PyTorch (CPU or CUDA), OpenCV CUDA defaults.

    ``batch_size`` bounds the pairs computed at once (None: ``CPU_BATCH`` on CPU, all pairs
    of a call on CUDA);
    ``compile`` None compiles the iteration where ``compile_available`` says it can.
    Like OpenCV's CUDA class (and unlike its CPU class, which samples zeros outside the
    image), warping replicates the border, so flow where content leaves the frame can grow
    large; clip it (``normalize``) before use.
    """

    name = "torch"

    def __init__(
        self,
        device: str | torch.device = "cpu",
        *,
        tau: float = 0.25,
        lambda_: float = 0.15,
        theta: float = 0.3,
        nscales: int = 5,
        warps: int = 5,
        epsilon: float = 0.01,
        iterations: int = 300,
        scale_step: float = 0.8,
        batch_size: int | None = None,
        compile: bool | None = None,
    ) -> None:
        self.device = torch.device(device)
        self.tau, self.lambda_, self.theta = tau, lambda_, theta
        self.nscales, self.warps, self.epsilon = nscales, warps, epsilon
        self.iterations, self.scale_step = iterations, scale_step
        self.batch_size = batch_size
        self._step = _Step(compile_available(self.device) if compile is None else compile)

    def params(self) -> dict[str, Any]:
        return {
            "tau": self.tau,
            "lambda": self.lambda_,
            "theta": self.theta,
            "nscales": self.nscales,
            "warps": self.warps,
            "epsilon": self.epsilon,
            "iterations": self.iterations,
            "scale_step": self.scale_step,
            "gamma": 0.0,
            "stopping": "opencv-cuda schedule, per pair",
            "dtype": "float32",
            "torch": torch.__version__,
        }

    def compute(self, prev: np.ndarray, nxt: np.ndarray) -> np.ndarray:
        check_pairs(prev, nxt)
        out = np.empty(prev.shape + (2,), np.float32)
        step = self.batch_size or (CPU_BATCH if self.device.type == "cpu" else max(1, prev.shape[0]))
        for start in range(0, prev.shape[0], step):
            end = start + step
            i0 = torch.from_numpy(prev[start:end]).to(self.device).float()
            i1 = torch.from_numpy(nxt[start:end]).to(self.device).float()
            with torch.inference_mode():
                flow = self.flow(i0, i1)
            out[start:end] = flow.permute(0, 2, 3, 1).cpu().numpy()
        return out

    def flow(self, i0: torch.Tensor, i1: torch.Tensor) -> torch.Tensor:
        """Flow (N, 2, H, W) from float32 (N, H, W) frames in 0..255 on one device."""
        sizes = pyramid_sizes(i0.shape[1], i0.shape[2], self.nscales, self.scale_step)
        down = (1.0 / self.scale_step, 1.0 / self.scale_step)
        levels = [(i0, i1)]
        for size in sizes[1:]:
            levels.append(tuple(resize_linear(img, size, down) for img in levels[-1]))
        u = [torch.zeros((i0.shape[0],) + sizes[-1], device=i0.device) for _ in range(2)]
        for s in range(len(sizes) - 1, -1, -1):
            if s < len(sizes) - 1:
                (h, w), (hc, wc) = sizes[s], sizes[s + 1]
                u = [resize_linear(c, (h, w), (hc / h, wc / w)) / self.scale_step for c in u]
            u = self._level(*levels[s], *u)
        return torch.stack(u, 1)

    def _level(
        self, i0: torch.Tensor, i1: torch.Tensor, u1: torch.Tensor, u2: torch.Tensor
    ) -> list[torch.Tensor]:
        """Refine the flow (u1, u2) at one pyramid level: ``warps`` warps of the iteration."""
        i1x, i1y = centred_gradient(i1)
        sources = torch.stack((i1, i1x, i1y), 1)
        dual = [torch.zeros_like(u1) for _ in range(4)]  # p11, p12, p21, p22
        for _ in range(self.warps):
            i1w, i1wx, i1wy = warp_bicubic(sources, u1, u2)
            rho_c = i1w - i1wx * u1 - i1wy * u2 - i0
            u1, u2, *dual = self._iterate([u1, u2, *dual], [i1wx, i1wy, rho_c])
        return [u1, u2]

    def _iterate(self, variables: list[torch.Tensor], warped: list[torch.Tensor]) -> list[torch.Tensor]:
        """Iterate one warp until each pair stops; returns the final (u1, u2, p11, p12, p21, p22).

        Stopped pairs are copied out and dropped from the batch, so the batch shrinks
        as pairs converge. The host tracks OpenCV's measurement schedule, so it waits
        for the device only on iterations where some pair measures its change.
        """
        n_pairs, h, w = variables[0].shape
        threshold = self.epsilon**2 * h * w
        l_t, taut = self.lambda_ * self.theta, self.tau / self.theta
        out = [torch.empty_like(v) for v in variables]
        rows = torch.arange(n_pairs, device=self.device)  # the batch index of each live pair
        last = np.zeros(n_pairs)  # per live pair: its last measurement, less threshold per iteration since
        state = variables + warped
        for n in range(self.iterations):
            *new, change = self._step(*state, l_t, self.theta, taut)
            state[: len(new)] = new
            measure = (n % 2 == 1) & (last < threshold)
            if not measure.any():
                last -= threshold
                continue
            change = change.sum(1).cpu().numpy()
            last = np.where(measure, change, last - threshold)
            done = measure & (change <= threshold)
            if done.any():
                stop = torch.from_numpy(np.flatnonzero(done)).to(self.device)
                keep = torch.from_numpy(np.flatnonzero(~done)).to(self.device)
                for dst, src in zip(out, state[: len(out)]):
                    dst[rows[stop]] = src[stop]
                state, rows, last = [t[keep] for t in state], rows[keep], last[~done]
                if not len(last):
                    return out
        for dst, src in zip(out, state[: len(out)]):
            dst[rows] = src
        return out
