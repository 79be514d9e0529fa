"""``twostream cmmp-tables``: CMMP Table 1 (variants on one split of one dataset) or Table 2 (every dataset)."""

from __future__ import annotations

import argparse

from twostream.eval.cmmp_tables import REPORTED, Run, table1, table2
from twostream.eval.metrics import ratio
from twostream.eval.tables import test_note, write_table
from twostream.models.cmmp import VARIANTS
from twostream.specs import CMMPTable1Spec, CMMPTable2Spec, add_spec

PROTOCOL = "Top-1 % of the test videos."


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="table", required=True)
    t1 = sub.add_parser("table1", help="Table 1: spatial, temporal and fused accuracy of each stage-2 variant")
    add_spec(t1, CMMPTable1Spec)
    t1.add_argument("--dataset", required=True)
    t1.add_argument("--split", type=int, required=True)
    t1.add_argument("--variants", nargs="+", choices=tuple(VARIANTS), required=True)
    t1.add_argument("--scores", nargs="+", required=True, help="score files of the variants, in the same order")
    t2 = sub.add_parser("table2", help="Table 2: mean accuracy of our two-stream baseline and CMMP, and the paper's")
    add_spec(t2, CMMPTable2Spec)
    t2.add_argument("--runs", nargs="+", required=True, metavar="DATASET:KIND:SPLIT")
    t2.add_argument("--rgb", nargs="+", required=True, help="stage-1 RGB score files, one per run")
    t2.add_argument("--flow", nargs="+", required=True, help="stage-1 flow score files, one per run")
    t2.add_argument("--cmmp", nargs="+", required=True, help="CMMP score files, one per run")
    t2.add_argument("--conv-fusion", nargs="+", help="conv-fusion score files, one per run (the measured Fusion [11] row)")
    for t in (t1, t2):
        t.add_argument("--out", required=True, help="table CSV (Markdown written beside it)")


def parse_runs(args: argparse.Namespace) -> list[Run]:
    if not len(args.runs) == len(args.rgb) == len(args.flow) == len(args.cmmp):
        raise SystemExit("give one RGB, one flow and one CMMP score file per run")
    conv = args.conv_fusion or [None] * len(args.runs)
    if len(conv) != len(args.runs):
        raise SystemExit("give one conv-fusion score file per run")
    runs = []
    for name, rgb, flow, cmmp, cf in zip(args.runs, args.rgb, args.flow, args.cmmp, conv):
        dataset, kind, split = name.split(":")
        runs.append(Run(dataset, kind, int(split), rgb, flow, cmmp, cf))
    return runs


def run(args: argparse.Namespace) -> int:
    spec = args.spec
    if args.table == "table1":
        if len(args.variants) != len(args.scores):
            raise SystemExit("give one score file per variant")
        df = table1({VARIANTS[v].name: s for v, s in zip(args.variants, args.scores)}, spec.fusion_weights)
        title = f"CMMP Table 1 on {args.dataset}, split {args.split}"
        note = (f"{PROTOCOL} Spatial / Temporal: the RGB / flow stream of each jointly trained variant; "
                f"Fusion: their scores summed with weights RGB:flow = {ratio(spec.fusion_weights)}. "
                "The (paper, HMDB-51 split 1) columns quote Wang et al. (ICASSP 2018) Table 1; "
                f"they were not measured here. {test_note(spec)}")
    else:
        runs = parse_runs(args)
        df = table2(runs, spec.two_stream_weights, spec.fusion_weights)
        splits = "; ".join(f"{d}: {', '.join(str(r.split) for r in runs if r.dataset == d)}"
                           for d in dict.fromkeys(r.dataset for r in runs))
        title = "CMMP Table 2: mean accuracy"
        note = (f"{PROTOCOL} Rows measured here: fused top-1 % averaged over the splits ({splits}); two-stream: "
                f"stage-1 streams fused with weights {ratio(spec.two_stream_weights)}, CMMP: weights "
                f"{ratio(spec.fusion_weights)}. Rows \"{REPORTED}\": Wang et al. (ICASSP 2018) Table 2, "
                f"mean over UCF-101 / HMDB-51's three splits, quoted, not measured here. {test_note(spec)}")
    write_table(df, args.out, title, note)
    print(df.to_string(index=False))
    return 0
