# twostream: raw videos -> optical flow -> shards -> two-stream, CMMP and CMA training -> tables.
import sys
from pathlib import Path

from snakemake.utils import min_version, validate

min_version("9.0")


# The embedded default, unless --configfile names a complete configuration (e.g. a preset).
if not workflow.overwrite_configfiles:

    configfile: "config.yaml"


validate(config, "workflow/schemas/config.schema.yaml")

sys.path.insert(0, str(Path(workflow.basedir) / "src"))
from twostream.config_check import exit_on_problems

exit_on_problems(config)  # what the schema cannot check (crop vs size, missing folders)


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/streams.smk"
include: "workflow/rules/summary.smk"


# Each paper's rules exist when the config has its section (the presets configure one paper each).
if "cmmp" in config:

    include: "workflow/rules/cmmp.smk"


if "cma" in config:

    include: "workflow/rules/cma.smk"


if "conv_fusion" in config:

    include: "workflow/rules/conv_fusion.smk"


include: "workflow/rules/curves.smk"


onstart:
    check_weights(
        config["model"]["depth"],
        config["model"]["pretrained"],
        config["model"]["torch_home"],
    )


rule all:
    input:
        final_targets(),
