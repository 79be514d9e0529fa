"""Helpers the Snakefile calls at parse time (kept light: no torch import)."""

from __future__ import annotations

import ast
import functools
import hashlib
import os
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
REPO = PACKAGE.parents[1]  # the checkout: Snakefile, workflow/, config.yaml
# Command dispatch, the version string and the spec declarations do not change what a command computes
# (a spec's values are in the rule's params: a changed declaration changes them).
NOT_CODE = ("twostream", "twostream.cli", "twostream.specs")


def _module_file(name: str) -> Path | None:
    """Source file of a ``twostream.*`` module, or None outside the package."""
    if not name.startswith("twostream"):
        return None
    parts = name.split(".")[1:]
    if not parts:
        return PACKAGE / "__init__.py"
    rel = Path(*parts)
    for candidate in (PACKAGE / rel.with_suffix(".py"), PACKAGE / rel / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports(path: Path, name: str) -> set[str]:
    """Package modules imported by one source file (absolute and relative imports)."""
    found = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)
    return {m for m in found if _module_file(m) is not None}


def code_modules(module: str, kind: str | None = None) -> dict[str, Path]:
    """``module`` and every package module it imports, transitively (name -> source file).

    Only ordinary imports are seen: code reached through importlib strings would be missed. The table
    of model kinds (``twostream.kinds``) imports every kind's module; of those only ``kind``'s is
    followed, so a command that runs one kind depends on that kind's code only.
    """
    from twostream.kinds import KINDS, module_name

    other_kinds = {module_name(k) for k in KINDS.values() if k.name != kind}
    seen: dict[str, Path] = {}
    todo = [module]
    while todo:
        name = todo.pop()
        path = _module_file(name)
        if path is None or name in seen or name in NOT_CODE:
            continue
        seen[name] = path
        imported = _imports(path, name) - (other_kinds if name == "twostream.kinds" else set())
        # A module's parent packages run on import too.
        todo.extend(imported | {name.rpartition(".")[0]} - {""})
    return seen


@functools.cache
def code_version(module: str, kind: str | None = None) -> str:
    """Hash of the source of ``module`` and every package module it imports, transitively (of the model kinds'
    modules, ``kind``'s only).

    A rule passes this as a param, so editing code it runs re-runs it, and editing
    code it does not run does not.
    """
    digest = hashlib.sha256()
    for path in sorted(set(code_modules(module, kind).values())):
        digest.update(path.relative_to(PACKAGE).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def command_module(command: str) -> str:
    """The module of ``twostream <command>``."""
    return f"twostream.cli.{command.replace('-', '_')}"


def command_version(command: str, kind: str | None = None) -> str:
    """Code version of ``twostream <command>`` (running model kind ``kind``, where it runs one)."""
    return code_version(command_module(command), kind)


def gpus_visible() -> int:
    """NVIDIA GPUs on this machine, from the driver's /proc entries (no CUDA initialisation)."""
    if "CUDA_VISIBLE_DEVICES" in os.environ:
        return len([d for d in os.environ["CUDA_VISIBLE_DEVICES"].split(",") if d.strip() not in ("", "-1")])
    gpus = Path("/proc/driver/nvidia/gpus")
    return len(list(gpus.iterdir())) if gpus.is_dir() else 0


_REPORTED: set[str] = set()


def pretrained_weights(depth: int, pretrained: str, torch_home: str, dry_run: bool = False) -> list[str]:
    """The weights file a training job starts from (``model.pretrained``), as the rule's input: none for ``none``,
    the file for a path, torchvision's cache file for ``imagenet``. Only jobs that train read it, so a plan
    that trains nothing needs no weights. Missing ImageNet weights are one line naming them and the command that
    fetches them; a run then stops before any job (the missing input), a dry run (``dry_run``) goes on."""
    if pretrained == "none":
        return []
    if pretrained != "imagenet":
        return [pretrained]
    from twostream.models.streams import imagenet_cache_path  # imports torch: only for a plan that trains

    previous = os.environ.get("TORCH_HOME")
    if torch_home:
        os.environ["TORCH_HOME"] = torch_home
    try:
        path = str(imagenet_cache_path(depth))
    finally:
        if torch_home:
            os.environ.pop("TORCH_HOME") if previous is None else os.environ.update(TORCH_HOME=previous)
    if not os.path.isfile(path) and path not in _REPORTED:
        _REPORTED.add(path)
        home = f" --torch-home {torch_home}" if torch_home else ""
        print(f"missing ImageNet weights for ResNet-{depth}: {path}; fetch them once with `twostream weights --depth"
              f" {depth}{home}` (on a machine with internet access), or set model.pretrained: none", file=sys.stderr)
    return [] if dry_run and not os.path.isfile(path) else [path]


def launcher(gpus: int, nodes: int, port: int = 29500) -> str:
    """The command that starts ``twostream`` for a training job: python, torchrun, or srun + torchrun.

    One process per GPU under torchrun (DDP); across nodes, srun starts one torchrun per node of the
    SLURM allocation, which meet at the first node.
    """
    if nodes > 1:
        first = '$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)'
        return (f"srun --nodes {nodes} --ntasks-per-node 1 torchrun --nnodes {nodes} --nproc-per-node {gpus}"
                f" --rdzv-backend c10d --rdzv-endpoint {first}:{port} --rdzv-id $SLURM_JOB_ID -m twostream")
    if gpus > 1:
        return f"torchrun --standalone --nproc-per-node {gpus} -m twostream"
    return "python -m twostream"


def snakemake_command(work: str | os.PathLike, *args: str, configfile: str | os.PathLike | None = None,
                      cores: int = 2) -> tuple[list[str], dict[str, str]]:
    """(argv, environment) that run this checkout's workflow in ``work`` with this Python (what the tests and
    benchmarks run): ``snakemake --snakefile <repo>/Snakefile --directory WORK [--configfile F] --cores N ARGS``.

    The environment puts this Python's folder first on PATH, so the rules' ``python -m twostream`` is this one.
    """
    argv = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(work)]
    if configfile is not None:
        argv += ["--configfile", str(configfile)]
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    return argv + ["--cores", str(cores), *args], env


def refresh_listings(config: dict) -> None:
    """Rewrite the listing of each dataset root (``twostream.paths.listing``, the ingest rule's input) whose videos
    came or went since the last run, with one line saying so when there was a manifest. ``config``: prepared."""
    from twostream import paths
    from twostream.data.ingest.listing import refresh  # no torch, no OpenCV decoding: a folder walk

    for name, d in config["datasets"].items():
        if "root" not in d or not os.path.isdir(d["root"]) or d.get("source") == "rawframes":
            continue  # a rawframes root holds folders of images, not videos to list
        changed = refresh(d["root"], d["kind"], paths.listing(config, name))
        if changed is not None and os.path.exists(paths.manifest(config, name)):
            print(f"dataset {name!r}: {changed[0]} videos appeared and {changed[1]} disappeared under {d['root']} "
                  "since the last ingest: it runs again (shards already made are kept)", file=sys.stderr)


def dataset_summaries(config: dict) -> list[str]:
    """Each dataset's summary lines from the logs of its ingest and index (``dataset '<d>': ...``) and their error
    lines, in that order: what a run's end prints again, so that nothing a user must know is only in logs/."""
    from twostream import paths

    lines = []
    for name in config["datasets"]:
        logs = {"ingest": f"logs/ingest/{name}/{Path(paths.ingest_dir(config, name)).name}.log",
                "index": f"logs/index/{name}/{paths.data_dir(config, name)}.log"}
        for step, log in logs.items():
            try:
                text = Path(log).read_text(errors="replace")
            except OSError:
                continue
            lines += [line for line in text.splitlines()
                      if line.startswith((f"dataset {name!r}:", f"twostream {step}: error:"))]
    return lines
