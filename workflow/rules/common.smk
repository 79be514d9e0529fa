# Shared wiring: dataset lookups, code versions, chunk lists, final targets.
import math
import re

from twostream import kinds, specs
from twostream.specs import spec_for
from twostream.workflow import (
    check_weights,
    command_version,
    gpus_visible,
    launcher,
)

DATASETS = config["datasets"]
GPUS = gpus_visible()

# Rules run the checkout's package (python -m twostream), so code versions match what runs.
# OMP_WAIT_POLICY=PASSIVE: idle OpenMP threads sleep instead of spinning; with spinning, a
# two-thread torch job on a 2-core machine that has any other load runs 3-10x slower.
shell.prefix(
    "set -euo pipefail; export PYTHONPATH="
    + str(Path(workflow.basedir) / "src")
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


def ingest_inputs(w):
    d = ds(w)
    if d["kind"] == "synthetic":
        return [f"data/{w.dataset}"]
    if d["kind"] == "ucf101":
        names = ["classInd.txt"] + [
            f"{s}list0{k}.txt" for s in ("train", "test") for k in (1, 2, 3)
        ]
        return [f"{d['splits_dir']}/{n}" for n in names]
    if d["kind"] == "hmdb51":
        return sorted(
            str(p) for p in Path(d["splits_dir"]).glob("*_test_split[123].txt")
        )
    if d["kind"] == "kinetics400":
        return d["annotations"]
    return []


def ingest_args(w):
    """Source arguments of `twostream ingest` for a dataset (synthetic data use the UCF-101 adapter)."""
    d = ds(w)
    if d["kind"] == "synthetic":
        return f"--kind ucf101 --root data/{w.dataset}/videos --splits data/{w.dataset}/splits"
    args = f"--kind {d['kind']} --root '{d['root']}'"
    if "splits_dir" in d:
        args += f" --splits '{d['splits_dir']}'"
    if "annotations" in d:
        args += " --annotations " + " ".join(f"'{a}'" for a in d["annotations"])
    if d["kind"] == "folder":
        args += f" --seed {config['seed']} --test-fraction {d['test_fraction']}"
    return args


def chunk_indexes(w):
    """One index per chunk of the manifest (known once ingest has run)."""
    manifest = checkpoints.ingest.get(dataset=w.dataset).output.manifest
    with open(manifest) as f:
        videos = sum(1 for _ in f) - 1
    chunks = math.ceil(videos / config["flow"]["chunk_size"])
    return [f"results/{w.dataset}/chunks/{i:04d}.csv" for i in range(chunks)]


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
    return " ".join(f"--{row} {rows[row]}" for row in ("cmmp", "cma") if row in rows)


# --- Training curves (curves.smk) ---


def trained_checkpoints(w):
    """Every checkpoint the workflow trains for a dataset, of every configured model kind."""
    return kinds.checkpoints(config, w.dataset)
