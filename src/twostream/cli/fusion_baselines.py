"""``twostream fusion-baselines``: late fusion, conv fusion, CMMP and CMA_iter1-R on one split, with intervals."""

from __future__ import annotations

import argparse

from twostream.eval.fusion_baselines import Row, table
from twostream.eval.metrics import ratio
from twostream.eval.tables import test_note, write_table
from twostream.models.conv_fusion import FUSED
from twostream.specs import FusionBaselinesSpec, add_spec


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_spec(p, FusionBaselinesSpec)
    p.add_argument("--dataset", required=True)
    p.add_argument("--split", type=int, required=True)
    p.add_argument("--rgb", required=True, help="stage-1 RGB stream scores")
    p.add_argument("--flow", required=True, help="stage-1 flow stream scores")
    p.add_argument("--conv-fusion", required=True, help="conv-fusion scores")
    p.add_argument("--cmmp", help="CMMP (variant cmmp) scores")
    p.add_argument("--cma", help="CMA iteration-1 scores (its RGB output is CMA_iter1-R)")
    p.add_argument("--out", required=True, help="table CSV (Markdown written beside it)")


def rows(args: argparse.Namespace) -> list[Row]:
    spec: FusionBaselinesSpec = args.spec
    out = [Row("RGB stream (stage 1)", ((args.rgb, "rgb"),)), Row("Flow stream (stage 1)", ((args.flow, "flow"),)),
           Row("Late fusion (stage 1)", ((args.rgb, "rgb"), (args.flow, "flow")), spec.two_stream_weights),
           Row("Conv fusion [11]", ((args.conv_fusion, FUSED),))]
    if args.cmmp:
        if spec.fusion_weights is None:
            raise SystemExit("--cmmp needs fusion_weights (cmmp.fusion_weights) in --spec")
        out.append(Row("CMMP", ((args.cmmp, "rgb"), (args.cmmp, "flow")), spec.fusion_weights))
    if args.cma:
        out.append(Row("CMA_iter1-R", ((args.cma, "rgb"),)))
    return out


def run(args: argparse.Namespace) -> int:
    spec: FusionBaselinesSpec = args.spec
    df = table(rows(args), spec.directions)
    note = (f"Split {args.split}, top-1 / top-5 % with 95 % Wilson intervals over the test videos. Late fusion: the "
            f"stage-1 streams' scores summed RGB:flow {ratio(spec.two_stream_weights)}. Conv fusion: Feichtenhofer et al. "
            "(2016), 1x1 conv fusion of the two streams' maps, trained from the stage-1 streams.")
    if spec.directions:
        note += (" colour / direction: the predicted class has the right colour / direction; colour_given_direction:"
                 " the colour rate among videos whose direction is right (late fusion ~50 %, binding -> 100 %).")
    write_table(df, args.out, f"Fusion baselines on {args.dataset}", f"{note} {test_note(spec)}")
    print(df.to_string(index=False))
    return 0
