"""``twostream cma-tables``: CMA Table 1 (per iteration) and Table 2 (parameters vs accuracy) for one dataset split."""

from __future__ import annotations

import argparse

from twostream.eval import cma_tables
from twostream.eval.metrics import ratio
from twostream.eval.predict import load_pair
from twostream.eval.tables import test_note, write_table
from twostream.models import checkpoint
from twostream.models.cma import load
from twostream.specs import CMATablesSpec, add_spec


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_spec(p, CMATablesSpec)
    p.add_argument("--dataset", required=True)
    p.add_argument("--split", type=int, required=True, help="the split the scores are from (noted in the tables)")
    p.add_argument("--rgb", required=True, help="stage-1 RGB stream scores (iteration 0)")
    p.add_argument("--flow", required=True, help="stage-1 flow stream scores (iteration 0)")
    p.add_argument("--iterations", nargs="+", required=True, help="CMA scores of iterations 1, 2, ... in order")
    p.add_argument("--rgb-model", required=True, help="stage-1 RGB stream (Table 2's parameter unit)")
    p.add_argument("--flow-model", required=True, help="stage-1 flow stream")
    p.add_argument("--cma-model", required=True, help="iteration 1's CMA checkpoint")
    p.add_argument("--table1", required=True, help="Table 1 CSV (Markdown written beside it)")
    p.add_argument("--table2", required=True, help="Table 2 CSV (Markdown written beside it)")


def stream_parameters(path: str) -> int:
    net, _ = checkpoint.load_stream(path)
    return sum(p.numel() for p in net.parameters())


def run(args: argparse.Namespace) -> int:
    spec: CMATablesSpec = args.spec
    odd, even, baseline = spec.fusion.odd, spec.fusion.even, spec.fusion.baseline
    scores = [load_pair(args.rgb, args.flow)] + [load_pair(s, s) for s in args.iterations]
    net, config = load(args.cma_model)
    if config["iteration"] != 1:
        raise SystemExit(f"{args.cma_model}: iteration {config['iteration']}, Table 2 needs iteration 1")
    params = {"rgb": stream_parameters(args.rgb_model), "flow": stream_parameters(args.flow_model),
              "cma_rgb": cma_tables.count_parameters(net, "rgb")}
    source = (f"Split {args.split} of {args.dataset}. paper_* columns: Chi et al. (2019) on Kinetics-400, "
              f"not this dataset. {test_note(spec)}")
    t1 = cma_tables.table1(scores, odd, even, baseline)
    note1 = (f"Iteration 0: the stage-1 streams (two-stream baseline, RGB:flow {ratio(baseline)}); "
             f"iteration n: CMA_iter_n, fused RGB:flow {ratio(odd)} after odd and "
             f"{ratio(even)} after even iterations. {source}")
    write_table(t1, args.table1, f"CMA Table 1: accuracy at each iteration on {args.dataset}", note1)
    t2 = cma_tables.table2(scores[0], scores[1], params, baseline)
    note2 = ("Parameters counted from the models: one stage-1 RGB stream (1x), both streams, and what "
             f"CMA_iter1's RGB output needs (count_parameters). {source}")
    write_table(t2, args.table2, f"CMA Table 2: CMA vs two-stream on {args.dataset}", note2)
    print(t1.to_string(index=False))
    print(t2.to_string(index=False))
    return 0
