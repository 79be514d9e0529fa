# twostream: raw videos -> optical flow -> shards -> two-stream, CMMP and CMA training -> tables.
import sys
from pathlib import Path

from snakemake.utils import min_version

min_version("9.0")


# The embedded default, unless --configfile names a complete configuration (e.g. a preset).
if not workflow.overwrite_configfiles:

    configfile: "config.yaml"


sys.path.insert(0, str(Path(workflow.basedir) / "src"))
from twostream.config import prepare_or_exit
from twostream.config_check import exit_on_problems

# workflow/schemas/config.schema.yaml: one line per problem; defaults filled in; datasets switched off dropped
prepare_or_exit(config)
exit_on_problems(config)  # what the schema cannot check (crop vs size, missing folders)


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"


# One rule file per model kind the config trains (twostream.kinds: the streams always; CMMP, CMA
# and conv fusion where the config has their section): workflow/rules/<kind>.smk.
for kind in kinds.configured(config):

    include: f"workflow/rules/{kind.name}.smk"


include: "workflow/rules/curves.smk"
include: "workflow/rules/summary.smk"


onstart:
    # Jobs that run here use this machine's GPUs (on a cluster they run elsewhere: not checked).
    if workflow.executor_plugin.common_settings.local_exec:
        exit_on_problems(config, gpus=GPUS)


onsuccess:
    print("\n".join(dataset_summaries(config)))


onerror:
    print("\n".join(dataset_summaries(config)))


rule all:
    input:
        final_targets(),
