"""``twostream plan``: what a configuration will compute and what it costs on this machine, before the run."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from twostream.config import ConfigError, load, prepare
from twostream.files import write_text
from twostream.workflow import REPO

EXAMPLES = """examples:
  twostream plan                                   # the embedded default (config.yaml)
  twostream plan --configfile workflow/presets/cmmp_ucf101_hmdb51.yaml \\
      --config 'datasets={ucf101: {root: /data/UCF-101, splits_dir: /data/ucfTrainTestlist}, hmdb51: {enabled: false}}'
  twostream plan --configfile my.yaml --cores 16   # as `snakemake --cores 16 --configfile my.yaml` would run it"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--configfile", default=None,
                   help="the configuration (default: config.yaml here, else the checkout's)")
    p.add_argument("--config", nargs="*", default=[], metavar="KEY=VALUE",
                   help="config items merged in, as snakemake --config takes them")
    p.add_argument("--directory", default=".", help="the working directory of the run (its manifests, if made)")
    p.add_argument("--cores", type=int, default=os.cpu_count(), help="the cores the run gets (snakemake --cores)")
    p.add_argument("--no-calibration", action="store_true", help="counts only: no flow time or disk estimate")
    p.add_argument("--config-json", metavar="JSON", help="the whole configuration as JSON (the workflow's plan rule)")
    p.add_argument("--out", help="also write the plan as Markdown (the run's plan.md, which its summary holds)")


def run(args: argparse.Namespace) -> int:
    from twostream.plan import plan

    configfile = args.configfile or ("config.yaml" if Path("config.yaml").is_file() else str(REPO / "config.yaml"))
    try:
        if args.config_json:
            config = json.loads(args.config_json)
            prepare(config)
        else:
            config = load(configfile, args.config)
    except ConfigError as e:
        print("\n".join(f"twostream plan: config error: {line}" for line in str(e).splitlines()), file=sys.stderr)
        return 2
    lines = plan(config, Path(args.directory), args.cores, calibration=not args.no_calibration)
    print("\n".join(lines), flush=True)
    if args.out:
        write_text(markdown(lines), args.out)
    return 0


def markdown(lines: list[str]) -> str:
    """The plan as the run's plan.md: a section of its summary."""
    return ("# Plan and cost\n\n`twostream plan` of this run's configuration, calibrated on this machine as the run "
            "began:\n\n```text\n" + "\n".join(lines) + "\n```\n")
