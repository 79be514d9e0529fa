"""twostream: action-recognition videos to the CMMP and CMA papers' tables (the whole chain: snakemake --cores N).

Each command is one module of this package with ``add_arguments(parser)`` and ``run(args)``, and may
define ``EXAMPLES`` (shown in its help). The commands a person runs are ``COMMANDS``; the workflow steps
(``STEPS``) are what the Snakemake rules run, each taking its config values as one ``--spec`` JSON
(``twostream.specs``). Modules are imported lazily so that light commands do not pay for importing torch.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from twostream import __version__
from twostream.files import WriteError

PURPOSE = ("From action-recognition videos to the tables of the CMMP and CMA papers. The whole chain runs with\n"
           "`snakemake --cores N` (README.md); these are its commands.")
COMMANDS: dict[str, str] = {
    "plan": "What a configuration computes and costs on this machine: videos, pairs, flow time, disk, steps.",
    "ingest": "Build a dataset's manifest (and failures list) from its official split files or folders.",
    "rawframes": "Write frames and TV-L1 flow as denseflow-style JPEG folders with mmaction2 file lists.",
    "flow": "Write the TV-L1 flow of an image pair (or of a list of pairs) as Middlebury .flo files.",
    "weights": "Download ImageNet weights into the torchvision cache (TORCH_HOME) for offline nodes.",
}
STEPS: dict[str, str] = {
    "synthetic": "Generate the embedded synthetic dataset in UCF-101 layout.",
    "extract": "Compute flow and write per-video HDF5 shards for one chunk of a manifest.",
    "import-rawframes": "Pack one chunk of a rawframes dataset (frames and flow images) into shards, no flow computed.",
    "index": "Merge chunk indexes into one shard index and one failures table.",
    "train": "Train one model of any kind (stream, cmmp, cma, conv_fusion) to the end of its schedule.",
    "evaluate": "Score test videos with one trained model (segments x crops).",
    "table": "Write the two-stream results table from per-stream scores.",
    "cmmp-tables": "Write CMMP Table 1 (one dataset) or Table 2 (all datasets).",
    "fusion-baselines": "Write the fusion baselines table (late, conv fusion, CMMP, CMA_iter1-R) for one dataset.",
    "summary": "Gather the run's Markdown tables into the run's summary.md with the date and machine.",
    "cma-tables": "Write CMA Table 1 and Table 2 for one dataset.",
    "cma-figures": "Draw the CMA fusion-weight sweep and attention maps.",
    "training-curves": "Draw loss, accuracy, validation accuracy and learning rate of trained checkpoints.",
}


class Formatter(argparse.RawDescriptionHelpFormatter):
    """Help with each option's default (where it has one its help does not already state) and examples kept as
    written."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text or action.default in (None, False, [], argparse.SUPPRESS):
            return text
        return f"{text} (default: %(default)s)"


def _module(name: str):
    return importlib.import_module(f"twostream.cli.{name.replace('-', '_')}")


def _steps() -> str:
    width = max(map(len, STEPS))
    lines = [f"  {name:<{width}}  {text}" for name, text in STEPS.items()]
    return ("workflow steps (run by the Snakemake rules; each takes its config values as --spec JSON):\n"
            + "\n".join(lines) + "\n\n`twostream COMMAND --help`: a command's options and examples.")


def parse(argv: list[str]) -> argparse.Namespace:
    """The arguments of ``twostream ARGV`` (its ``--spec`` read into the command's dataclass)."""
    parser = argparse.ArgumentParser(prog="twostream", description=PURPOSE, epilog=_steps(), formatter_class=Formatter)
    parser.add_argument("--version", action="version", version=f"twostream {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, title="commands", metavar="COMMAND")
    # Only the chosen command's module is imported (it may import torch).
    chosen = argv[0] if argv and argv[0] in {**COMMANDS, **STEPS} else None
    for name, text in {**COMMANDS, **STEPS}.items():
        listed = {"help": text} if name in COMMANDS else {}  # the steps are listed in the epilog instead
        module = _module(name) if name == chosen else None
        p = sub.add_parser(name, description=text, epilog=getattr(module, "EXAMPLES", None), formatter_class=Formatter,
                           **listed)
        if module is not None:
            module.add_arguments(p)
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
