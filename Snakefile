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


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/streams.smk"
include: "workflow/rules/cmmp.smk"
include: "workflow/rules/cma.smk"


onstart:
    check_weights()


rule all:
    input:
        final_targets(),
