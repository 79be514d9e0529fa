"""Command line: ``twostream <command> ...``; one module per command in this package.

Each command module defines ``add_arguments(parser)`` and ``run(args)``; the commands a rule runs
take their config values as one ``--spec`` JSON (``twostream.specs``) and paths as flags. Modules are
imported lazily so that light commands do not pay for importing torch.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from twostream.files import WriteError

COMMANDS: dict[str, str] = {
    "synthetic": "Generate the embedded synthetic dataset in UCF-101 layout.",
    "ingest": "Build a dataset manifest (and failures list) from its official files.",
    "extract": "Compute flow and write per-video HDF5 shards for one chunk of a manifest.",
    "index": "Merge chunk indexes into one shard index and one failures table.",
    "flow": "Write the raw TV-L1 flow of one image pair as a Middlebury .flo file.",
    "rawframes": "Write frames and TV-L1 flow as denseflow-style JPEG folders with mmaction2 file lists.",
    "train": "Train one model of any kind (stream, cmmp, cma, conv_fusion) to the end of its schedule.",
    "evaluate": "Score test videos with one trained stream (segments x crops).",
    "table": "Write the two-stream results table from per-stream scores.",
    "cmmp-tables": "Write CMMP Table 1 (one dataset) or Table 2 (all datasets).",
    "fusion-baselines": "Write the fusion baselines table (late, conv fusion, CMMP, CMA_iter1-R) for one dataset.",
    "summary": "Gather the run's Markdown tables into results/summary.md with the date and machine.",
    "cma-tables": "Write CMA Table 1 and Table 2 for one dataset.",
    "cma-figures": "Draw the CMA fusion-weight sweep and attention maps.",
    "training-curves": "Draw loss, training accuracy and learning rate per epoch of trained checkpoints.",
    "weights": "Download ImageNet weights into the torchvision cache (TORCH_HOME) for offline nodes.",
}


def _module(name: str):
    return importlib.import_module(f"twostream.cli.{name.replace('-', '_')}")


def parse(argv: list[str]) -> argparse.Namespace:
    """The arguments of ``twostream ARGV`` (its ``--spec`` read into the command's dataclass)."""
    parser = argparse.ArgumentParser(prog="twostream", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # Only the chosen command's module is imported (it may import torch).
    chosen = argv[0] if argv and argv[0] in COMMANDS else None
    for name, help_text in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == chosen:
            _module(name).add_arguments(p)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    try:
        return int(_module(args.command).run(args) or 0)
    except WriteError as e:  # disk full, read-only folder: one line naming the folder, no traceback
        # on a line of its own, also after an unfinished progress bar
        print(f"\ntwostream {args.command}: error: {e.strerror}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
