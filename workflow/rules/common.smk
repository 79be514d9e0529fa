# Shared wiring: dataset lookups, code versions, chunk lists, final targets. Every output path carries a
# key of the settings that make it (twostream.paths), so two configurations share a working directory.
import json
import math
import re
import shlex

from twostream import kinds, paths, specs
from twostream.config_check import exit_with, training_counts, training_set_problems
from twostream.specs import spec_for
from twostream.workflow import (
    command_version,
    dataset_summaries,
    gpus_visible,
    launcher,
    pretrained_weights,
    refresh_listings,
)

DATASETS = config["datasets"]
GPUS = gpus_visible()
RUN = kinds.run_dir(
    config
)  # results/<datasets>-<key>: the run's tables, figures and summary

# Rules run the checkout's package (python -m twostream), so code versions match what runs.
# OMP_WAIT_POLICY=PASSIVE: idle OpenMP threads sleep instead of spinning; with spinning, a
# two-thread torch job on a 2-core machine that has any other load runs 3-10x slower.
shell.prefix(
    "set -euo pipefail; export PYTHONPATH="
    + shlex.quote(str(Path(workflow.basedir) / "src"))
    + "${{PYTHONPATH:+:$PYTHONPATH}} OMP_WAIT_POLICY=${{OMP_WAIT_POLICY:-PASSIVE}}; "
)


def one_of(names):
    return "|".join(re.escape(n) for n in dict.fromkeys(names))


wildcard_constraints:
    dataset=one_of(DATASETS),
    generator=r"[0-9a-f]{6}",
    source=r"(full|subset)-[0-9a-f]{6}",
    data=r"(\d+x\d+|rawframes)(-subset)?-[0-9a-f]{6}",
    scores=r"scores-[0-9a-f]{6}",
    key=r"[0-9a-f]{6}",
    run=re.escape(Path(RUN).name),
    split=r"\d+",
    modality="rgb|flow",
    chunk=r"\d+",
    variant=r"[a-z]+(-[a-z]+)?",


TRAIN_GPUS = config["train"]["gpus"]
TRAIN_NODES = config["train"]["nodes"]
# Training commands: python, or torchrun (DDP) with train.gpus processes on each of train.nodes.
TRAIN = launcher(TRAIN_GPUS, TRAIN_NODES)


# CPU-only machines: every torch job (training, evaluation, attention figure) computes with this many threads,
# whatever --cores is. Its sums depend on the thread count (training's weights, and evaluation's scores by an
# ulp or so: tests/train/test_cpu_threads.py), so its numbers are those of the 2-core runs published so far.
TORCH_CPU_THREADS = 2


def job_threads(gpus=1):
    """Cores Snakemake reserves for a job that may take ``gpus`` GPUs (training, evaluation): its share of
    the cores beside the machine's GPUs. Without GPUs one below 4 cores, so that two independent jobs run side
    by side on 2 cores (a 2-thread torch job keeps about 1.35 cores busy and idle OpenMP threads sleep:
    OMP_WAIT_POLICY=PASSIVE), else TORCH_CPU_THREADS."""
    if GPUS:
        return max(1, workflow.cores * gpus // GPUS)
    return 1 if workflow.cores < 4 else TORCH_CPU_THREADS


def torch_threads(gpus=1):
    """torch threads of such a job (its --threads): the cores it reserves, TORCH_CPU_THREADS without GPUs."""
    return job_threads(gpus) if GPUS else TORCH_CPU_THREADS


def train_resources():
    """GPUs per node of a training job (none where this machine has no GPU) and its nodes."""
    return {"gpu": TRAIN_GPUS if GPUS else 0, "nodes": TRAIN_NODES}


def ds(w):
    return DATASETS[w.dataset]


def code(command, kind=None):
    """Code version of a twostream command (and of the model kind it runs): a param, so code edits re-run
    exactly its rules."""
    return command_version(command, kind)


def spec(cls):
    """A rule's --spec param: the values of a spec dataclass (twostream.specs) read from the config at
    its fields' paths, with the job's wildcards."""
    return lambda w: spec_for(cls, config, w)


def sourced(source):
    """Wildcard pattern of the datasets whose root holds `source` (videos or rawframes): rules that make a
    dataset's manifest and chunks differ by source."""
    names = [re.escape(n) for n, d in DATASETS.items() if d["source"] == source]
    return "|".join(names) or "(?!)"  # (?!) matches nothing: no dataset of that source


def current(expected):
    """A param that stops a job whose output is not this config's path (a path of other settings asked for by
    name): ``expected(wildcards)`` is the config's path for the job's wildcards."""

    def check(w, output):
        made, wanted = output[0], expected(w)
        if made != wanted:
            raise ValueError(
                f"{made} is not an output of this configuration (its settings give {wanted})"
            )
        return ""

    return check


def weights(w):
    """The pretrained weights (model.pretrained) a stream or CMA iteration 1 starts from: an input of those jobs
    only, so that a plan that trains nothing runs without them (twostream.workflow.pretrained_weights).
    """
    if "iteration" in w.keys() and int(w.iteration) != 1:
        return []
    model = config["model"]
    dry_run = workflow.dryrun or workflow.touch
    return pretrained_weights(
        model["depth"], model["pretrained"], model["torch_home"], dry_run
    )


# Videos that appeared or disappeared under a dataset root since the last run: the listing the ingest
# rule depends on changes, so ingest runs again (in the main process only, not in each cluster job).
if workflow.is_main_process:
    refresh_listings(config)


def ingest_inputs(w):
    """The files ingest reads: the listing of the root, the configured splits' files (synthetic: its folder)."""
    d = ds(w)
    if d["kind"] == "synthetic":
        return [paths.synthetic_dir(config, w.dataset)]
    files = [paths.listing(config, w.dataset)] if d["source"] == "videos" else []
    if d["kind"] == "mmaction2":
        files += [p for pair in d["lists"] for p in pair]
        files += [d[k] for k in ("classes",) if k in d]
    if d["kind"] == "ucf101":
        names = ["classInd.txt"] + [
            f"{s}list0{k}.txt" for s in ("train", "test") for k in d["splits"]
        ]
        files += [f"{d['splits_dir']}/{n}" for n in names]
    elif d["kind"] == "hmdb51":
        folder = Path(d["splits_dir"])
        files += [str(p) for p in [folder / "class_list.txt"] if p.is_file()]
        files += sorted(
            str(p) for k in d["splits"] for p in folder.glob(f"*_test_split{k}.txt")
        )
    elif d["kind"] == "kinetics400":
        files += d["annotations"]
    return files


def ingest_args(w):
    """Source arguments of `twostream ingest` for a dataset (synthetic data use the UCF-101 adapter), every
    path quoted for the shell."""
    d = ds(w)
    if d["kind"] == "synthetic":
        data = paths.synthetic_dir(config, w.dataset)
        args = [
            "--kind",
            "ucf101",
            "--root",
            f"{data}/videos",
            "--splits-dir",
            f"{data}/splits",
        ]
    else:
        args = ["--kind", d["kind"], "--root", d["root"]]
    if "splits_dir" in d:
        args += ["--splits-dir", d["splits_dir"]]
    if "annotations" in d:
        args += ["--annotations", *d["annotations"]]
    if d["kind"] == "folder":
        args += [
            "--seed",
            str(config["seed"]),
            "--test-fraction",
            str(d["test_fraction"]),
        ]
    for train, val in d.get("lists", []):
        args += ["--lists", train, val]
    if "classes" in d:
        args += ["--classes-file", d["classes"]]
    args += ["--splits", *map(str, d["splits"])]
    args += ["--dataset", w.dataset, "--min-present", str(d["min_present"])]
    subset = d.get("subset", {})
    if "classes" in subset:
        classes = subset["classes"]
        args += [
            "--classes",
            *([str(classes)] if isinstance(classes, int) else classes),
        ]
    if "per_class" in subset:
        args += ["--per-class", str(subset["per_class"])]
    return " ".join(shlex.quote(a) for a in args)


def manifest(w):
    return paths.manifest(config, w.dataset)


def ingest_failures(w):
    return f"{paths.ingest_dir(config, w.dataset)}/ingest_failures.csv"


def rawframes_naming(w):
    """The naming a rawframes dataset's ingest detected (templates, first numbers)."""
    return f"{paths.ingest_dir(config, w.dataset)}/rawframes_naming.json"


def rawframes_naming_args(w):
    """The naming keys of a rawframes dataset that are given (the others are detected by `twostream ingest`)."""
    keys = ds(w)["rawframes"]
    templates = keys.get("filename_tmpl", {})
    args = [
        f"--{part}-tmpl {shlex.quote(templates[part])}"
        for part in ("rgb", "flow")
        if part in templates
    ]
    if "start_index" in keys:
        args.append(f"--start-index {keys['start_index']}")
    return " ".join(args)


def ingest_checkpoint(name):
    """The checkpoint that makes a dataset's manifest: ingest (videos) or ingest_rawframes."""
    if DATASETS[name]["source"] == "rawframes":
        return checkpoints.ingest_rawframes
    return checkpoints.ingest


def chunk_indexes(w):
    """One index per chunk of the manifest (known once ingest has run)."""
    videos, _ = training_counts(ingested(w))
    chunks = math.ceil(videos / config["flow"]["chunk_size"])
    return [
        f"{paths.data(config, w.dataset)}/chunks/{i:04d}.csv" for i in range(chunks)
    ]


def index(w):
    return paths.index(config, w.dataset)


def ingested(w):
    """The manifest ingest made (known once the ingest checkpoint has run)."""
    source = Path(paths.ingest_dir(config, w.dataset)).name
    return (
        ingest_checkpoint(w.dataset)
        .get(dataset=w.dataset, source=source)
        .output.manifest
    )


def training_index(w):
    """A trainer's shard index, once the manifest shows a training set of at least one
    batch of each configured trainer on each split it trains (else: stop here)."""
    exit_with(training_set_problems(config, w.dataset, training_counts(ingested(w))[1]))
    return paths.index(config, w.dataset)


def splits(name):
    return DATASETS[name]["splits"]


def first_split(name):
    """The split of a dataset that CMMP Table 1, CMA and conv fusion train and report: the first configured one."""
    return kinds.first_split(config, name)


def stream(name, modality, split=None):
    """A stage-1 stream of a dataset (of its first split unless ``split``)."""
    split = first_split(name) if split is None else split
    return paths.stream_model(config, name, modality, split)


def scores(name, model):
    """The test scores of a checkpoint of a dataset."""
    return paths.scores(config, name, model)


def tables():
    """Every dataset's failures and training curves, plus every configured model kind's tables and figures."""
    out = []
    for name in DATASETS:
        out += [
            f"{paths.data(config, name)}/failures.csv",
            f"{RUN}/{name}/training_curves.png",
        ]
    return out + kinds.targets(config)


def summary_tables():
    """The Markdown of every final table (summary.smk gathers them into <run>/summary.md)."""
    csvs = [
        t for t in tables() if t.endswith(".csv") and not t.endswith("failures.csv")
    ]
    return list(dict.fromkeys(t[: -len(".csv")] + ".md" for t in csvs))


def final_targets():
    """Every table and figure, and the run's summary.md."""
    return tables() + [f"{RUN}/summary.md"]


# --- CMMP (cmmp.smk) ---

CMMP = config.get("cmmp")


def cmmp_runs():
    """(dataset, kind, split) of every configured split: Table 2 averages over them."""
    return [(name, d["kind"], k) for name, d in DATASETS.items() for k in d["splits"]]


def cmmp_scores(name, split, variant):
    return scores(name, paths.cmmp_model(config, name, split, variant))


# --- CMA (cma.smk) ---

CMA = config.get("cma")


def cma_init(w):
    """Iteration 1 starts from the stage-1 flow stream, iteration n from iteration n-1's checkpoint."""
    n = int(w.iteration)
    if n == 1:
        return stream(w.dataset, "flow", int(w.split))
    return paths.cma_model(config, w.dataset, int(w.split), n - 1)


def cma_scores(w):
    """Scores of iterations 1..N on the first split."""
    k = first_split(w.dataset)
    return [
        scores(w.dataset, paths.cma_model(config, w.dataset, k, n))
        for n in range(1, CMA["iterations"] + 1)
    ]


def cma_stage1(kind, modality):
    """A stage-1 model or score file of the first split (iteration 0)."""
    if kind == "model":
        return lambda w: stream(w.dataset, modality)
    return lambda w: scores(w.dataset, stream(w.dataset, modality))


# --- Conv fusion and the fusion baselines table (conv_fusion.smk) ---

CONV = config.get("conv_fusion")


def fusion_baselines_inputs(w):
    """Score files of the table's rows: stage 1, conv fusion, and CMMP / CMA_iter1 where configured."""
    d, k = w.dataset, first_split(w.dataset)
    out = {
        "rgb": scores(d, stream(d, "rgb")),
        "flow": scores(d, stream(d, "flow")),
        "conv_fusion": scores(d, paths.conv_fusion_model(config, d, k)),
    }
    if CMMP is not None:
        out["cmmp"] = cmmp_scores(d, k, "cmmp")
    if CMA is not None:
        out["cma"] = scores(d, paths.cma_model(config, d, k, 1))
    return out


def fusion_baselines_args(w):
    """The CMMP and CMA score files of `twostream fusion-baselines` (none where not configured)."""
    rows = fusion_baselines_inputs(w)
    return " ".join(
        f"--{row} {shlex.quote(rows[row])}" for row in ("cmmp", "cma") if row in rows
    )


# --- Training curves (curves.smk) ---


def trained_checkpoints(w):
    """Every checkpoint the workflow trains for a dataset, of every configured model kind."""
    return kinds.checkpoints(config, w.dataset)
