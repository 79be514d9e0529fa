"""The table of model kinds: everything the workflow and the commands know about each kind.

One row per kind: its training spec, the config section that switches it on, its label in figures,
the checkpoints and final targets the workflow makes of it, and ``code``, its module
``twostream.train.<name>``, which holds what runs: ``start(spec, init, index)`` (network, checkpoint
config, origin), ``modalities(config)``, ``step(config, device)`` (the Trainer step), ``build(config)``
(an untrained network of a checkpoint config) and ``scorer(net, config)``. ``twostream train --kind``,
``twostream evaluate``, the training curves, the rules' targets and the report all read this table.

The module is imported when first used (an ordinary import inside ``code``), so the Snakefile reads
the table without importing torch; ``workflow.code_version`` follows a kind's module by its name, so a
rule's code version covers its own kind's code and not the others' (``tests/test_kinds.py``).

Adding a kind: its model (``models/``), its module (``train/<name>.py``), its spec (``specs.py``),
its row here, its config section (schema, ``config.yaml``) and its rules (``workflow/rules/<name>.smk``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from twostream import paths, specs

Config = Mapping[str, Any]


@dataclass(frozen=True)
class Kind:
    name: str  # recorded in its checkpoints; its module is twostream.train.<name>
    label: str  # in the training curves and the report
    spec: type  # its training spec (twostream.specs)
    section: str | None  # the config section that switches it on (None: always trained)
    code: Callable[[], ModuleType]  # twostream.train.<name>, imported on first use
    checkpoints: Callable[[Config, str], list[str]]  # the checkpoints the workflow trains for a dataset
    targets: Callable[[Config], list[str]]  # its final tables and figures

    def configured(self, config: Config) -> bool:
        return self.section is None or self.section in config


def splits(config: Config, dataset: str) -> list[int]:
    return config["datasets"][dataset]["splits"]


def first_split(config: Config, dataset: str) -> int:
    """The split a kind trained on one split uses (CMMP Table 1, CMA, conv fusion): the first configured one."""
    return splits(config, dataset)[0]


def _per_dataset(*names: str) -> Callable[[Config], list[str]]:
    """Tables and figures of each dataset, in the run's folder (``run_dir``)."""
    return lambda config: [f"{run_dir(config)}/{d}/{n}" for d in config["datasets"] for n in names]


# --- stream: stage 1, each modality alone ---


def _stream() -> ModuleType:
    from twostream.train import stream

    return stream


def _stream_checkpoints(config: Config, d: str) -> list[str]:
    return [paths.stream_model(config, d, m, k) for k in splits(config, d) for m in ("rgb", "flow")]


# --- cmmp: stage 2, every Table 1 variant on the first split, CMMP itself on every split ---


def _cmmp() -> ModuleType:
    from twostream.train import cmmp

    return cmmp


def cmmp_runs(config: Config, d: str) -> list[tuple[int, str]]:
    """(split, variant) of every CMMP model of a dataset: the variants on the first split, cmmp on every split."""
    runs = [(first_split(config, d), v) for v in config["cmmp"]["variants"]]
    return runs + [(k, "cmmp") for k in splits(config, d) if (k, "cmmp") not in runs]


def _cmmp_checkpoints(config: Config, d: str) -> list[str]:
    return [paths.cmmp_model(config, d, k, v) for k, v in cmmp_runs(config, d)]


def _cmmp_targets(config: Config) -> list[str]:
    table2 = [f"{run_dir(config)}/cmmp_table2.csv", f"{run_dir(config)}/cmmp_table2.md"]
    return _per_dataset("cmmp_table1.csv", "cmmp_table1.md")(config) + table2


# --- cma: iterations 1..N on the first split ---


def _cma() -> ModuleType:
    from twostream.train import cma

    return cma


def _cma_checkpoints(config: Config, d: str) -> list[str]:
    k = first_split(config, d)
    return [paths.cma_model(config, d, k, n) for n in range(1, config["cma"]["iterations"] + 1)]


# --- conv fusion: the positive control, on the first split ---


def _conv_fusion() -> ModuleType:
    from twostream.train import conv_fusion

    return conv_fusion


def _conv_fusion_checkpoints(config: Config, d: str) -> list[str]:
    return [paths.conv_fusion_model(config, d, first_split(config, d))]


KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind("stream", "streams (stage 1)", specs.StreamSpec, None, _stream, _stream_checkpoints,
             _per_dataset("two_stream.csv")),
        Kind("cmmp", "CMMP stage 2", specs.CMMPSpec, "cmmp", _cmmp, _cmmp_checkpoints, _cmmp_targets),
        Kind("cma", "CMA iterations", specs.CMASpec, "cma", _cma, _cma_checkpoints,
             _per_dataset("cma_table1.csv", "cma_table2.csv", "cma_fusion_weights.png", "cma_attention.png")),
        Kind("conv_fusion", "conv fusion", specs.ConvFusionSpec, "conv_fusion", _conv_fusion,
             _conv_fusion_checkpoints, _per_dataset("fusion_baselines.csv", "fusion_baselines.md")),
    )
}


def configured(config: Config) -> list[Kind]:
    """The kinds a config trains, in table order."""
    return [k for k in KINDS.values() if k.configured(config)]


def checkpoints(config: Config, dataset: str) -> list[str]:
    """Every checkpoint the workflow trains for a dataset, kind after kind."""
    return [path for k in configured(config) for path in k.checkpoints(config, dataset)]


def run_dir(config: Config) -> str:
    """``results/<datasets>-<key>``: the folder of a config's tables, figures, plan and summary, keyed by every
    checkpoint it trains and every setting of its tables (``twostream.paths.run``)."""
    return paths.run(config, {d: checkpoints(config, d) for d in config["datasets"]})


def targets(config: Config) -> list[str]:
    """Every kind's final tables and figures."""
    return [path for k in configured(config) for path in k.targets(config)]


def module_name(kind: Kind) -> str:
    """The module ``kind.code()`` imports (its code version is that module's)."""
    return f"twostream.train.{kind.name}"


def scorer(path: Any, device: Any) -> Any:
    """(modalities the model reads, clip scorer) of a checkpoint file of any kind (``checkpoint_scorer``)."""
    from twostream.models import checkpoint

    return checkpoint_scorer(checkpoint.load(path), device, path)


def checkpoint_scorer(ckpt: dict[str, Any], device: Any, path: Any = "checkpoint") -> Any:
    """The scorer of a loaded checkpoint, its network in eval mode on ``device`` (channels-last on CUDA); ``path``
    names it in errors."""
    from twostream import precision
    from twostream.models import checkpoint

    if ckpt["kind"] not in KINDS:
        raise ValueError(f"{path}: unknown checkpoint kind {ckpt['kind']!r}; known: {', '.join(KINDS)}")
    code = KINDS[ckpt["kind"]].code()
    net = precision.place(checkpoint.restore(ckpt, code.build), device).eval()
    return code.scorer(net, ckpt["config"])
