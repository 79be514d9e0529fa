# Shared wiring: dataset lookups, code versions, chunk lists, final targets.
import math
import re

from twostream.workflow import command_version, gpus_visible

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


def ds(w):
    return DATASETS[w.dataset]


def code(command):
    """Code version of a twostream command: a param, so code edits re-run exactly its rules."""
    return command_version(command)


def ingest_inputs(w):
    d = ds(w)
    if d["kind"] == "synthetic":
        return [f"data/{w.dataset}"]
    if d["kind"] == "ucf101":
        names = ["classInd.txt"] + [f"{s}list0{k}.txt" for s in ("train", "test") for k in (1, 2, 3)]
        return [f"{d['splits_dir']}/{n}" for n in names]
    if d["kind"] == "hmdb51":
        return sorted(str(p) for p in Path(d["splits_dir"]).glob("*_test_split[123].txt"))
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
        args += f" --seed {config['seed']} --test-fraction {d.get('test_fraction', 0.3)}"
    return args


def chunk_indexes(w):
    """One index per chunk of the manifest (known once ingest has run)."""
    manifest = checkpoints.ingest.get(dataset=w.dataset).output.manifest
    with open(manifest) as f:
        videos = sum(1 for _ in f) - 1
    chunks = math.ceil(videos / config["flow"]["chunk_size"])
    return [f"results/{w.dataset}/chunks/{i:04d}.csv" for i in range(chunks)]


def check_weights():
    """Before any job runs: the pretrained weights the config names must be available (not in dry-runs)."""
    import os

    from twostream.models.streams import check_pretrained

    if config["model"].get("torch_home"):
        os.environ["TORCH_HOME"] = config["model"]["torch_home"]
    check_pretrained(config["model"]["depth"], config["model"]["pretrained"])


def splits(name):
    return DATASETS[name]["splits"]


def final_targets():
    """Every dataset's failures and two-stream table, plus each paper's targets (cmmp.smk, cma.smk)."""
    out = []
    for name in DATASETS:
        out += [f"results/{name}/failures.csv", f"results/{name}/two_stream.csv"]
    return out + cmmp_targets() + cma_targets()
