"""``twostream fusion-baselines``: late fusion, conv fusion, CMMP and CMA_iter1-R on one split, with intervals."""

from __future__ import annotations

import argparse

from twostream.eval.fusion_baselines import Row, table
from twostream.eval.tables import write_table


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", required=True)
    p.add_argument("--split", type=int, required=True)
    p.add_argument("--rgb", required=True, help="stage-1 RGB stream scores")
    p.add_argument("--flow", required=True, help="stage-1 flow stream scores")
    p.add_argument("--weights", type=float, nargs=2, required=True, metavar=("RGB", "FLOW"),
                   help="late fusion's weights")
    p.add_argument("--conv-fusion", required=True, help="conv-fusion scores")
    p.add_argument("--cmmp", help="CMMP (variant cmmp) scores")
    p.add_argument("--cmmp-weights", type=float, nargs=2, metavar=("RGB", "FLOW"))
    p.add_argument("--cma", help="CMA iteration-1 scores (its RGB output is CMA_iter1-R)")
    p.add_argument("--directions", type=int, default=0,
                   help="the embedded data's directions: adds colour- and direction-correct rates (0: not)")
    p.add_argument("--note", default="", help="provenance line for the Markdown table")
    p.add_argument("--out", required=True, help="table CSV (Markdown written beside it)")


def rows(args: argparse.Namespace) -> list[Row]:
    out = [Row("RGB stream (stage 1)", ((args.rgb, "rgb"),)), Row("Flow stream (stage 1)", ((args.flow, "flow"),)),
           Row("Late fusion (stage 1)", ((args.rgb, "rgb"), (args.flow, "flow")), tuple(args.weights)),
           Row("Conv fusion [11]", ((args.conv_fusion, "fused"),))]
    if args.cmmp:
        if not args.cmmp_weights:
            raise SystemExit("--cmmp needs --cmmp-weights")
        out.append(Row("CMMP", ((args.cmmp, "rgb"), (args.cmmp, "flow")), tuple(args.cmmp_weights)))
    if args.cma:
        out.append(Row("CMA_iter1-R", ((args.cma, "rgb"),)))
    return out


def run(args: argparse.Namespace) -> int:
    df = table(rows(args), args.directions or None)
    w = args.weights
    note = (f"Split {args.split}, top-1 / top-5 % with 95 % Wilson intervals over the test videos. Late fusion: the "
            f"stage-1 streams' scores summed RGB:flow {w[0]:g}:{w[1]:g}. Conv fusion: Feichtenhofer et al. (2016), "
            "1x1 conv fusion of the two streams' maps, trained from the stage-1 streams.")
    if args.directions:
        note += (" colour / direction: the predicted class has the right colour / direction; colour_given_direction:"
                 " the colour rate among videos whose direction is right (late fusion ~50 %, binding -> 100 %).")
    write_table(df, args.out, f"Fusion baselines on {args.dataset}", f"{note} {args.note}".strip())
    print(df.to_string(index=False))
    return 0
