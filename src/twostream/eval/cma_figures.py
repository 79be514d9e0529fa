"""CMA figures: top-1 against the RGB:flow fusion weight (paper Fig. 3) and attention maps (Fig. 5).

Attention maps come from the last CMA block of res4 in the RGB branch: queries on the RGB map,
keys on the max-pooled flow map (kernel 2, stride 2). A key's weight is drawn over every cell of the
query grid that it pooled, so query and key share one grid laid over the crop.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from matplotlib.colors import hsv_to_rgb
from matplotlib.figure import Figure  # the object API: no pyplot state, no GUI backend

from twostream.eval import intervals
from twostream.eval.metrics import Weights, fuse, ratio
from twostream.files import atomic_path
from twostream.models.cma import CMABlock, CMANet


def sweep(models: dict[str, dict[str, np.ndarray]], ratios: Sequence[Weights]) -> pd.DataFrame:
    """Fused top-1 / top-5 (with 95 % intervals) of each model's RGB and flow scores at each RGB:flow weight pair."""
    rows = []
    for name, scores in models.items():
        for w in ratios:
            fused = fuse(scores["rgb"], scores["flow"], w)
            rows.append({"model": name, "weights": ratio(w), "w_rgb": w[0], "w_flow": w[1],
                         **intervals.columns("top1", intervals.accuracy(fused, scores["label"], 1)),
                         **intervals.columns("top5", intervals.accuracy(fused, scores["label"], 5))})
    return pd.DataFrame(rows)


def save_figure(fig: Figure, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120, bbox_inches="tight")


def plot_sweep(df: pd.DataFrame, title: str, path: str | os.PathLike) -> None:
    """Top-1 against the fusion weights, one line per model with its 95 % band (weights in the order given)."""
    fig = Figure(figsize=(7, 4))
    ax = fig.subplots()
    for name, rows in df.groupby("model", sort=False):
        x = range(len(rows))
        line, = ax.plot(x, rows["top1"], marker="o", label=name)
        ax.fill_between(x, rows["top1_lo"], rows["top1_hi"], color=line.get_color(), alpha=0.15, linewidth=0)
    labels = df.drop_duplicates("weights")["weights"]
    ax.set_xticks(range(len(labels)), labels)
    ax.set(xlabel="fusion weights RGB:flow", ylabel="top-1 (%), 95 % band", title=title)
    ax.grid(alpha=0.3)
    ax.legend()
    save_figure(fig, path)


def last_res4_block(net: CMANet) -> CMABlock:
    """The RGB branch's last CMA block (the last insertion point is in res4)."""
    return net.rgb_cma["_".join(map(str, net.points[-1]))]


@torch.no_grad()
def attention(net: CMANet, rgb: torch.Tensor, flow: torch.Tensor) -> tuple[np.ndarray, tuple, tuple, torch.Tensor]:
    """(attention (N, Nq, Nk), query grid, key grid, RGB scores) of the last res4 block for snippets (N, C, h, w)."""
    block = last_res4_block(net)
    block.keep_attention = True
    try:
        scores, _ = net(rgb, flow)
    finally:
        block.keep_attention = False
    return block.attention.cpu().numpy(), block.query_shape, block.key_shape, scores


def key_map(weights: np.ndarray, query_shape: tuple[int, int], key_shape: tuple[int, int]) -> np.ndarray:
    """One query's attention (Nk,) on the query grid: each cell carries the weight of the key that pooled it."""
    grid = weights.reshape(key_shape)
    return np.repeat(np.repeat(grid, 2, axis=0), 2, axis=1)[:query_shape[0], :query_shape[1]]


def flow_magnitude(flow: torch.Tensor, shape: tuple[int, int]) -> np.ndarray:
    """Mean flow magnitude of a (2L, h, w) stack over each cell of a ``shape`` grid."""
    mag = flow.view(-1, 2, *flow.shape[-2:]).norm(dim=1).mean(dim=0, keepdim=True)
    return F.adaptive_avg_pool2d(mag[None], shape)[0, 0].cpu().numpy()


def pick_queries(magnitude: np.ndarray, n: int) -> list[int]:
    """``n`` query cells at evenly spaced ranks of flow magnitude: the strongest motion first, the weakest last."""
    order = np.argsort(-magnitude.ravel(), kind="stable")
    return [int(order[i]) for i in np.linspace(0, order.size - 1, n).round().astype(int)]


def flow_colour(flow: torch.Tensor) -> np.ndarray:
    """The first field (x, y) of a (2L, h, w) stack as RGB: hue = direction, brightness = magnitude."""
    x, y = flow[0].cpu().numpy(), flow[1].cpu().numpy()
    mag = np.hypot(x, y)
    hsv = np.stack([(np.arctan2(y, x) / (2 * np.pi)) % 1.0, np.ones_like(mag), mag / max(mag.max(), 1e-6)], -1)
    return hsv_to_rgb(hsv)


def _cell_centre(q: int, query_shape: tuple[int, int], size: int) -> tuple[float, float]:
    r, c = divmod(q, query_shape[1])
    return (c + 0.5) * size / query_shape[1], (r + 0.5) * size / query_shape[0]


def plot_attention(frames: np.ndarray, flows: torch.Tensor, maps: np.ndarray, query_shape: tuple[int, int],
                   key_shape: tuple[int, int], queries: list[list[int]], titles: list[str], title: str,
                   path: str | os.PathLike) -> None:
    """Rows: videos; columns: RGB frame with numbered queries, flow, then one attention map per query."""
    n, size = len(frames), frames.shape[1]
    cols = 2 + len(queries[0])
    fig = Figure(figsize=(2.1 * cols, 2.3 * n))
    axes = fig.subplots(n, cols, squeeze=False)
    extent = (0, size, size, 0)
    for i in range(n):
        row = axes[i]
        row[0].imshow(frames[i])
        row[0].set_title(titles[i], fontsize=7, loc="left")
        row[1].imshow(flow_colour(flows[i]))
        row[1].set_title("flow", fontsize=7)
        for j, q in enumerate(queries[i]):
            x, y = _cell_centre(q, query_shape, size)
            row[0].annotate(str(j + 1), (x, y), color="white", ha="center", va="center", fontsize=8,
                            bbox={"boxstyle": "circle", "fc": "black", "alpha": 0.6})
            ax = row[2 + j]
            ax.imshow(frames[i].mean(axis=-1), cmap="gray", extent=extent)
            ax.imshow(key_map(maps[i, q], query_shape, key_shape), cmap="inferno", alpha=0.6, extent=extent,
                      vmin=0, vmax=1)
            ax.plot(x, y, marker="x", color="cyan", markersize=8, mew=2)
            ax.set_title(f"query {j + 1}", fontsize=7)
        for ax in row:
            ax.set_xticks([])
            ax.set_yticks([])
    fig.suptitle(title, fontsize=9)
    save_figure(fig, path)
