"""Rule threads on a 2-core machine without GPUs (workflow/rules/common.smk): every torch job reserves one core, so
that two run side by side, and computes with 2 torch threads, so that its numbers are those of the 2-core runs
(one thread would change them: tests/train/test_cpu_threads.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from smk import TINY, job_blocks, snakemake, twostream_call

from twostream.workflow import gpus_visible

TORCH_RULES = {"train_stream", "evaluate_stream", "cmmp_train", "evaluate_cmmp", "cma_train", "evaluate_cma",
               "cma_attention_figure", "conv_fusion_train", "evaluate_conv_fusion"}


@pytest.mark.skipif(gpus_visible() > 0, reason="the rule threads of a machine without GPUs")
def test_torch_jobs_reserve_one_core_and_compute_with_two_threads(tmp_path: Path) -> None:
    out = snakemake(tmp_path, yaml.safe_load(TINY.read_text()), "-n", "-p")
    assert out.returncode == 0, out.stderr[-3000:]
    seen = set()
    for rule, block in job_blocks(out.stdout):
        if rule not in TORCH_RULES:
            continue
        threads = re.search(r"^\s+threads: (\d+)$", block, re.M)  # Snakemake lists threads above 1 only
        assert threads is None or threads.group(1) == "1", (rule, threads.group(1))
        _, flags, _ = twostream_call(re.search(r"^Shell command: (.+)$", block, re.M).group(1))
        assert flags["--threads"] == "2", (rule, flags["--threads"])
        seen.add(rule)
    assert seen == TORCH_RULES
