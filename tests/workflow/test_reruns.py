"""Exact incremental re-runs: one config edit at a time, what `snakemake -n` (default triggers) would run.

A config edit writes new paths (twostream.paths: each path keys its settings) for what it changes and for the
run's tables and figures (cheap; one folder per run), and leaves every other output where it is."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pytest
from smk import data_dir, jobs, snakemake, tiny_config

pytestmark = pytest.mark.slow

DATA = {"synthetic", "ingest"}
FLOW = {"extract", "index"}
STAGE1 = {"train_stream", "evaluate_stream", "two_stream_table"}
CMMP = {"cmmp_train", "evaluate_cmmp", "cmmp_table1", "cmmp_table2"}
CMA = {"cma_train", "evaluate_cma", "cma_tables", "cma_fusion_figure", "cma_attention_figure"}
CONV = {"conv_fusion_train", "evaluate_conv_fusion", "fusion_baselines"}
SUMMARY = {"summary"}  # <run>/summary.md: after any table
CURVES = {"training_curves"}  # every trained checkpoint's history
# The run's tables and figures: all in one folder keyed by every setting, so remade after any edit.
TABLES = {"two_stream_table", "cmmp_table1", "cmmp_table2", "cma_tables", "cma_fusion_figure", "cma_attention_figure",
          "fusion_baselines", "plan"} | SUMMARY | CURVES
EVAL = {"evaluate_stream", "evaluate_cmmp", "evaluate_cma", "evaluate_conv_fusion"} | TABLES


@pytest.fixture(scope="module")
def everything(run: Path) -> list:
    """Every job of the workflow, to compare edits against: a forced dry run, plus the flow chunks.

    (A forced dry run re-runs the ingest checkpoint, after which it cannot know the chunks.)
    """
    out = snakemake(run, tiny_config(run), "-n", "--forceall")
    assert out.returncode == 0, out.stderr[-3000:]
    chunks = [("extract", {"dataset": p.parents[2].name}, "") for p in sorted(run.glob("results/*/*/chunks/*.csv"))]
    assert {w["dataset"] for _, w, _ in chunks} == {"tiny", "ext"}
    return jobs(out.stdout) + chunks


def dry_run(work: Path, edit) -> list:
    config = tiny_config(work)
    edit(config)
    out = snakemake(work, config, "-n")
    assert out.returncode == 0, out.stderr[-3000:]
    return jobs(out.stdout)


def counts(listed: list, rules: set[str] | None = None, dataset: str | None = None) -> Counter:
    """Jobs per rule (``all`` included), optionally only of ``rules`` and of one dataset (plus its aggregates)."""
    return Counter(rule for rule, wildcards, _ in listed
                   if (rules is None or rule in rules or rule == "all")
                   and (dataset is None or wildcards.get("dataset", dataset) == dataset))


def setting(*keys: str, value):
    """A config edit: the value at ``keys`` set to ``value``."""
    def apply(config: dict) -> None:
        section = config
        for key in keys[:-1]:
            section = section[key]
        section[keys[-1]] = value
    return apply


@pytest.mark.parametrize("edit", [setting("flow", "bound", value=10), setting("flow", "backend", value="opencv-cpu")],
                         ids=["flow.bound", "flow.backend"])
def test_flow_edit_reruns_flow_and_everything_after_it_for_every_dataset(run, everything, edit) -> None:
    listed = dry_run(run, edit)
    assert counts(listed) == counts(everything, FLOW | STAGE1 | CMMP | CMA | CONV | TABLES)
    assert all(r.startswith("Missing output files") for rule, _, r in listed if rule == "extract")  # new paths


def test_cma_lr_edit_reruns_only_cma(run, everything) -> None:
    listed = dry_run(run, setting("cma", "schedule", "lr", value=0.1))
    assert counts(listed) == counts(everything, CMA | TABLES)


def test_cmmp_lr_edit_reruns_only_cmmp_stage2_and_tables(run, everything) -> None:
    listed = dry_run(run, setting("cmmp", "schedule", "lr", value=0.1))
    assert counts(listed) == counts(everything, CMMP | TABLES)
    assert all(r.startswith("Missing output files") for rule, _, r in listed if rule == "cmmp_train")


@pytest.mark.parametrize("edit", [setting("eval", "crops", value=5), setting("eval", "test_segments", value=3)],
                         ids=["eval.crops", "eval.test_segments"])
def test_eval_edit_reruns_evaluations_and_tables_only(run, everything, edit) -> None:
    listed = dry_run(run, edit)
    assert counts(listed) == counts(everything, EVAL)


def test_split_file_edit_reruns_only_that_datasets_rules(run, everything, tmp_path) -> None:
    """Moving one video of `ext` from the test list to the training list: `ext` downstream only, not `tiny`."""
    work = tmp_path / "work"
    shutil.copytree(run, work, symlinks=True)
    splits = work / "ext/splits"
    test = (splits / "testlist01.txt").read_bytes().splitlines(keepends=True)
    moved, label = test[0].strip().decode(), None
    for line in (splits / "classInd.txt").read_text().splitlines():
        index, name = line.split()
        if moved.startswith(name + "/"):
            label = index
    (splits / "testlist01.txt").write_bytes(b"".join(test[1:]))
    with open(splits / "trainlist01.txt", "ab") as f:
        f.write(f"{moved} {label}\r\n".encode())
    listed = dry_run(work, lambda config: None)
    # Until ingest has re-run, a dry run cannot know the flow chunks: everything else of `ext` is listed.
    ext = counts(everything, DATA | FLOW | STAGE1 | CMMP | CMA | CONV | TABLES, dataset="ext")
    assert counts(listed) == ext - Counter({"extract": ext["extract"]})
    assert not [job for job in listed if job[1].get("dataset") == "tiny"]
    # Run to the shard index: extract re-runs on the new manifest and keeps every shard (same recipe).
    shards = {p: p.stat().st_mtime_ns for p in work.glob("shards/ext/*/*.h5")}
    done = snakemake(work, tiny_config(work), f"{data_dir(tiny_config(work), 'ext')}/shards.csv")
    assert done.returncode == 0, done.stderr[-3000:]
    assert shards and {p: p.stat().st_mtime_ns for p in work.glob("shards/ext/*/*.h5")} == shards
    assert counts(dry_run(work, lambda config: None)) == counts(everything, STAGE1 | CMMP | CMA | CONV | TABLES,
                                                                dataset="ext")
