# Shared wiring: dataset lookups, code versions, chunk lists, final targets.
import math
import re
import shlex

from twostream import kinds, specs
from twostream.config_check import exit_with, training_counts, training_set_problems
from twostream.specs import spec_for
from twostream.workflow import (
    check_weights,
    command_version,
    dataset_summaries,
    gpus_visible,
    launcher,
    refresh_listings,
)

DATASETS = config["datasets"]
GPUS = gpus_visible()

# Rules run the checkout's package (python -m twostream), so code versions match what runs.
# OMP_WAIT_POLICY=PASSIVE: idle OpenMP threads sleep instead of spinning; with spinning, a
# two-thread torch job on a 2-core machine that has any other load runs 3-10x slower.
shell.prefix(
    "set -euo pipefail; export PYTHONPATH="
    + shlex.quote(str(Path(workflow.basedir) / "src"))
    + "${{PYTHONPATH:+:$PYTHONPATH}} OMP_WAIT_POLICY=${{OMP_WAIT_POLICY:-PASSIVE}}; "
)


wildcard_constraints:
    dataset="|".join(re.escape(d) for d in DATASETS),
    split=r"\d+",
    modality="rgb|flow",
    chunk=r"\d+",
    variant=r"[a-z]+(-[a-z]+)?",


TRAIN_GPUS = config["train"]["gpus"]
TRAIN_NODES = config["train"]["nodes"]
# Training commands: python, or torchrun (DDP) with train.gpus processes on each of train.nodes.
TRAIN = launcher(TRAIN_GPUS, TRAIN_NODES)


# CPU-only machines: every training job computes with this many torch threads, whatever --cores is. Its
# gradient sums depend on the thread count, so its numbers are those of the 2-core runs published so far
# (inference's do not: tests/eval/test_predict_threads.py, so evaluation jobs take the cores they reserve).
TRAIN_CPU_THREADS = 2


def job_threads(gpus=1):
    """Cores Snakemake reserves for a job that may take ``gpus`` GPUs (training, evaluation): its share of
    the cores beside the machine's GPUs. Without GPUs one below 4 cores, so that two independent jobs run side
    by side on 2 cores (a 2-thread training job keeps about 1.35 cores busy and idle OpenMP threads sleep:
    OMP_WAIT_POLICY=PASSIVE), else TRAIN_CPU_THREADS."""
    if GPUS:
        return max(1, workflow.cores * gpus // GPUS)
    return 1 if workflow.cores < 4 else TRAIN_CPU_THREADS


def train_threads():
    """torch threads of a training job (its --threads): the cores it reserves, TRAIN_CPU_THREADS without GPUs."""
    return job_threads(TRAIN_GPUS) if GPUS else TRAIN_CPU_THREADS


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


# Videos that appeared or disappeared under a dataset root since the last run: the listing the ingest
# rule depends on changes, so ingest runs again (in the main process only, not in each cluster job).
if workflow.is_main_process:
    refresh_listings(DATASETS)


def ingest_inputs(w):
    """The files ingest reads: the listing of the root, the configured splits' files (synthetic: its folder)."""
    d = ds(w)
    if d["kind"] == "synthetic":
        return [f"data/{w.dataset}"]
    files = [f"results/{w.dataset}/listing.txt"]
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
        return f"--kind ucf101 --root data/{w.dataset}/videos --splits data/{w.dataset}/splits"
    args = f"--kind {d['kind']} --root {shlex.quote(d['root'])}"
    if "splits_dir" in d:
        args += f" --splits {shlex.quote(d['splits_dir'])}"
    if "annotations" in d:
        args += " --annotations " + " ".join(map(shlex.quote, d["annotations"]))
    return args


def chunk_indexes(w):
    """One index per chunk of the manifest (known once ingest has run)."""
    manifest = checkpoints.ingest.get(dataset=w.dataset).output.manifest
    videos, _ = training_counts(manifest)
    chunks = math.ceil(videos / config["flow"]["chunk_size"])
    return [f"results/{w.dataset}/chunks/{i:04d}.csv" for i in range(chunks)]


def training_index(w):
    """A trainer's shard index, once the manifest shows a training set of at least one
    batch of each configured trainer on each split it trains (else: stop here)."""
    manifest = checkpoints.ingest.get(dataset=w.dataset).output.manifest
    exit_with(training_set_problems(config, w.dataset, training_counts(manifest)[1]))
    return f"results/{w.dataset}/shards.csv"


def splits(name):
    return DATASETS[name]["splits"]


def first_split(name):
    """The split of a dataset that CMMP Table 1, CMA and conv fusion train and report: the first configured one."""
    return kinds.first_split(config, name)


def tables():
    """Every dataset's failures and training curves, plus every configured model kind's tables and figures."""
    out = []
    for name in DATASETS:
        out += [f"results/{name}/failures.csv", f"results/{name}/training_curves.png"]
    return out + kinds.targets(config)


def summary_tables():
    """The Markdown of every final table (summary.smk gathers them into results/summary.md)."""
    csvs = [
        t for t in tables() if t.endswith(".csv") and not t.endswith("failures.csv")
    ]
    return list(dict.fromkeys(t[: -len(".csv")] + ".md" for t in csvs))


def final_targets():
    """Every table and figure, and results/summary.md."""
    return tables() + ["results/summary.md"]


# --- CMMP (cmmp.smk) ---

CMMP = config.get("cmmp")


def cmmp_runs():
    """(dataset, kind, split) of every configured split: Table 2 averages over them."""
    return [(name, d["kind"], k) for name, d in DATASETS.items() for k in d["splits"]]


# --- CMA (cma.smk) ---

CMA = config.get("cma")


def cma_init(w):
    """Iteration 1 starts from the stage-1 flow stream, iteration n from iteration n-1's checkpoint."""
    n = int(w.iteration)
    if n == 1:
        return f"models/{w.dataset}/split{w.split}/flow.pt"
    return f"models/{w.dataset}/split{w.split}/cma/iter{n - 1}.pt"


def cma_scores(w):
    """Scores of iterations 1..N on the first split."""
    return [
        f"results/{w.dataset}/split{first_split(w.dataset)}/scores/cma/iter{n}.npz"
        for n in range(1, CMA["iterations"] + 1)
    ]


def cma_stage1(kind, modality):
    """A stage-1 model or score file of the first split (iteration 0)."""
    path = {
        "model": "models/{d}/split{s}/{m}.pt",
        "scores": "results/{d}/split{s}/scores/{m}.npz",
    }[kind]
    return lambda w: path.format(d=w.dataset, s=first_split(w.dataset), m=modality)


# --- Conv fusion and the fusion baselines table (conv_fusion.smk) ---

CONV = config.get("conv_fusion")


def fusion_baselines_inputs(w):
    """Score files of the table's rows: stage 1, conv fusion, and CMMP / CMA_iter1 where configured."""
    scores = f"results/{w.dataset}/split{first_split(w.dataset)}/scores"
    out = {
        "rgb": f"{scores}/rgb.npz",
        "flow": f"{scores}/flow.npz",
        "conv_fusion": f"{scores}/conv_fusion.npz",
    }
    if CMMP is not None:
        out["cmmp"] = f"{scores}/cmmp-cmmp.npz"
    if CMA is not None:
        out["cma"] = f"{scores}/cma/iter1.npz"
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
