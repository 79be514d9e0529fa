"""``twostream cma-figures``: ``fusion`` (top-1 against the RGB:flow weight, paper Fig. 3; CSV beside the PNG)
and ``attention`` (RGB frame, flow and attention maps of the last res4 CMA block, paper Fig. 5)."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from twostream.cli.common import add_run_arguments
from twostream.data.dataset import TSNDataset, read_index, select
from twostream.data.transforms import to_input
from twostream.eval import cma_figures
from twostream.eval.metrics import parse_ratio
from twostream.eval.predict import load_pair, same_videos
from twostream.files import write_csv
from twostream.gpus import resolve_device, set_threads
from twostream.models.cma import BRANCHES, load
from twostream.specs import CMAAttentionFigureSpec, CMAFusionFigureSpec, add_spec


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="figure", required=True)
    f = sub.add_parser("fusion", help="fused top-1 against the fusion weights (CSV written beside the PNG)")
    add_spec(f, CMAFusionFigureSpec)
    f.add_argument("--dataset", required=True)
    f.add_argument("--split", type=int, required=True)
    f.add_argument("--rgb", required=True, help="stage-1 RGB stream scores (two-stream baseline)")
    f.add_argument("--flow", required=True, help="stage-1 flow stream scores")
    f.add_argument("--iterations", nargs="+", required=True, help="CMA scores of iterations 1, 2, ... in order")
    f.add_argument("--out", required=True, help="figure PNG")
    a = sub.add_parser("attention", help="attention maps of CMA_iter1 on a few test videos")
    add_spec(a, CMAAttentionFigureSpec)
    add_run_arguments(a)
    a.add_argument("--model", required=True, help="iteration 1's CMA checkpoint")
    a.add_argument("--out", required=True, help="figure PNG")


def fusion(args: argparse.Namespace) -> None:
    models = {"two-stream": load_pair(args.rgb, args.flow)}
    models.update({f"CMA_iter{n}": load_pair(s, s) for n, s in enumerate(args.iterations, start=1)})
    same_videos(list(models.values()), [args.rgb, *args.iterations])
    df = cma_figures.sweep(models, [parse_ratio(w) for w in args.spec.weights])
    write_csv(df, Path(args.out).with_suffix(".csv"))
    cma_figures.plot_sweep(df, f"Fusion weights on {args.dataset} (split {args.split})", args.out)
    top1 = df.pivot(index="weights", columns="model", values="top1")
    print(top1.loc[df["weights"].unique(), list(models)].to_string())


def middle_snippets(test: pd.DataFrame, videos: int, crop: int, length: int) -> list[dict]:
    """Dataset items (one centre crop of the middle snippet) of ``videos`` videos evenly spaced over ``test``."""
    picked = test.iloc[np.unique(np.linspace(0, len(test) - 1, videos).round().astype(int))]
    data = TSNDataset(picked.reset_index(drop=True), BRANCHES, segments=1, length=length, crop=crop,
                      train=False, crops=1, decode="cpu")
    return [data[i] for i in range(len(data))]


def attention(args: argparse.Namespace) -> None:
    spec: CMAAttentionFigureSpec = args.spec
    set_threads(args.threads)
    dev = torch.device(resolve_device(spec.device))
    net, config = load(args.model)
    net.to(dev).eval()
    index = read_index(args.index)
    items = middle_snippets(select(index, args.split, "test"), spec.videos, spec.crop, config["flow"]["in_channels"] // 2)
    rgb_u8 = torch.stack([it["rgb"][0, 0] for it in items])  # (N, h, w, 3)
    rgb = to_input(rgb_u8.to(dev), "rgb")
    flow = to_input(torch.stack([it["flow"][0, 0] for it in items]).to(dev), "flow")
    maps, query_shape, key_shape, scores = cma_figures.attention(net, rgb, flow)
    names = dict(zip(index["label"], index["class_name"]))
    model = f"CMA_iter{config['iteration']}"
    titles = [f"{names[it['label']]}\n{model}-R: {names[p]}" for it, p in zip(items, scores.argmax(dim=1).tolist())]
    queries = [cma_figures.pick_queries(cma_figures.flow_magnitude(f, query_shape), spec.queries) for f in flow]
    title = f"{model}: the RGB branch's last res4 CMA block attending over the flow branch"
    cma_figures.plot_attention(rgb_u8.numpy(), flow, maps, query_shape, key_shape, queries, titles, title, args.out)


def run(args: argparse.Namespace) -> int:
    {"fusion": fusion, "attention": attention}[args.figure](args)
    return 0
