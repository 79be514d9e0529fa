"""Where every output lives: each path carries a short key of the settings that make it.

Outputs whose settings differ never share a path, and outputs whose settings are equal are the same file:
two configurations (both papers' presets, a trial and the full run) run in one working directory without
redoing or overwriting each other's work. A config edit writes new paths beside the old ones; a code edit
re-runs the rules in place (their code version is a param, not part of the path). Per dataset ``d``:

    data/d/<generator>/                                 the embedded dataset's videos (kind synthetic)
    results/d/<full|subset>-<S>/manifest.csv            ingest: S keys the dataset's source (root, split files,
                                                        splits, subset, ...)
    shards/d/<H>x<W>-<E>/<video>.h5                     one shard per video: E keys the extraction recipe
                                                        (frame size, flow backend, variant, bound, JPEG quality),
                                                        so a trial and the full run share their shards; a
                                                        rawframes dataset's are shards/d/rawframes-<E>/, E keying
                                                        the import's (its rawframes block, flow.bound, quality)
    results/d/<H>x<W>[-subset]-<D>/                     D keys the manifest and every extract setting
                                                        (rawframes: ``rawframes[-subset]-<D>``, the import's):
        chunks/, shards.csv, failures.csv               the flow chunks and the shard index
        scores-<V>/<model>.npz                          test scores of each model, V keys the test protocol
    models/d/<H>x<W>[-subset]-<D>/                      the trained models of those data:
        rgb-<K>/split<k>.pt, flow-<K>/split<k>.pt       stage 1 (K keys the stream's training settings)
        cmmp-<K>/split<k>/<variant>.pt                  CMMP (K: its settings and the stage-1 streams' keys)
        cma-<K>/split<k>/iter<n>.pt                     CMA (K: its settings and the flow stream's key)
        conv_fusion-<K>/split<k>.pt                     conv fusion (K: its settings and both streams' keys)
    results/<datasets>-<R>/                             (datasets in name order) the run's tables, figures, plan.md and summary.md; R keys
        d/two_stream.csv, ..., summary.md               all of the above and the tables' settings
                                                        (``twostream.kinds.run_dir``)

A key is the first 6 hex digits of the SHA-256 of the settings' JSON, leaving out every setting whose value is
the schema's default (so a key added to the schema later, at its default, moves no path). Functions take a
prepared config (``twostream.config.prepare``: defaults filled in).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import typing
from collections.abc import Mapping
from typing import Any

from twostream import specs

Config = Mapping[str, Any]
KEY_LENGTH = 6


def digest(obj: Any) -> str:
    """A short, stable key of a JSON-serialisable object."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:KEY_LENGTH]


_NO_DEFAULT = object()


def _default(path: str) -> Any:
    node = specs.schema_node(path)
    return node.get("default", _NO_DEFAULT) if node is not None else _NO_DEFAULT


def settings(cls: type, config: Config, wildcards: Mapping[str, Any]) -> dict[str, Any]:
    """The values of spec ``cls`` that are not the schema's defaults, without the fields that are only a wildcard
    (a modality, a variant, an iteration: part of the path's name)."""
    values = specs.values(cls, config, wildcards)
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        path = specs.path_of(f)
        if f.name not in values or (path.startswith("{") and path.endswith("}") and path.count("{") == 1):
            continue
        where = path.format_map(dict(wildcards))
        value = values[f.name]
        if isinstance(value, dict) and dataclasses.is_dataclass(_inner(cls, f.name)):
            value = {k: v for k, v in value.items() if v != _default(f"{where}.{k}")}
            if value:
                out[f.name] = value
        elif value != _default(where):
            out[f.name] = value
    return out


def _inner(cls: type, name: str) -> Any:
    tp = typing.get_type_hints(cls)[name]
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    return args[0] if args else tp


def _launch(config: Config) -> dict[str, int]:
    """How training jobs are launched (processes per node, nodes), where not the default."""
    return {k: config["train"][k] for k in ("gpus", "nodes") if config["train"][k] != _default(f"train.{k}")}


# --- data ---


def _dataset(config: Config, d: str) -> Mapping[str, Any]:
    return config["datasets"][d]


def rawframes(config: Config, d: str) -> bool:
    """Whether a dataset's root holds rawframes folders (packed into shards by an import, no flow computed)."""
    return _dataset(config, d).get("source", "videos") == "rawframes"


def size_label(config: Config, d: str) -> str:
    """``<H>x<W>`` of the frames a dataset's videos are resized to; ``rawframes`` (they keep their size)."""
    if rawframes(config, d):
        return "rawframes"
    height, width = _dataset(config, d)["size"]
    return f"{height}x{width}"


def synthetic_dir(config: Config, d: str) -> str:
    """The embedded dataset's generated videos and split files."""
    return f"data/{d}/{digest(settings(specs.SyntheticSpec, config, {'dataset': d}))}"


INGEST_KEYS = ("kind", "source", "root", "splits_dir", "annotations", "lists", "classes", "splits", "subset",
               "min_present")
NAMING_KEYS = ("start_index", "filename_tmpl")  # a rawframes dataset's keys that its manifest depends on


def source(config: Config, d: str) -> dict[str, Any]:
    """What a dataset's manifest depends on: its source files and the ingest settings."""
    ds = _dataset(config, d)
    out = {k: ds[k] for k in INGEST_KEYS if k in ds and ds[k] != _default(f"datasets.{d}.{k}")}
    naming = {k: v for k, v in ds.get("rawframes", {}).items() if k in NAMING_KEYS}
    if rawframes(config, d) and naming:
        out["naming"] = naming
    if ds["kind"] == "synthetic":
        out["synthetic"] = synthetic_dir(config, d)
    if ds["kind"] == "folder":
        out.update(seed=config["seed"], test_fraction=ds["test_fraction"])
    return out


def _trial(config: Config, d: str) -> str:
    return "subset" if "subset" in _dataset(config, d) else "full"


def ingest_dir(config: Config, d: str) -> str:
    """The folder of a dataset's manifest and ingest failures."""
    return f"results/{d}/{_trial(config, d)}-{digest(source(config, d))}"


def manifest(config: Config, d: str) -> str:
    return f"{ingest_dir(config, d)}/manifest.csv"


def listing(config: Config, d: str) -> str:
    """The listing of a dataset's root that its ingest depends on (rewritten when videos come or go)."""
    return f"{ingest_dir(config, d)}/listing.txt"


RECIPE_FIELDS = ("size", "backend", "variant", "bound", "jpeg_quality")  # what a shard's content depends on
IMPORT_RECIPE_FIELDS = ("rawframes", "bound", "jpeg_quality")  # the same, of a shard imported from rawframes


def _packing(config: Config, d: str) -> dict[str, Any]:
    """The settings of the jobs that pack a dataset's shards, not the defaults: extract's, or a rawframes import's."""
    if rawframes(config, d):
        return settings(specs.ImportSpec, config, {"dataset": d})
    return settings(specs.ExtractSpec, config, {"dataset": d})


def shards_dir(config: Config, d: str) -> str:
    """A dataset's shards: one folder per extraction recipe, shared by every manifest (trial or full) of it."""
    if rawframes(config, d):
        recipe = {k: v for k, v in _packing(config, d).items() if k in IMPORT_RECIPE_FIELDS}
        return f"shards/{d}/rawframes-{digest(recipe)}"
    extract = _packing(config, d)
    recipe = {k: v for k, v in extract.items() if k in RECIPE_FIELDS}
    return f"shards/{d}/{size_label(config, d)}-{digest({'size': _dataset(config, d)['size'], **recipe})}"


def data_dir(config: Config, d: str) -> str:
    """The folder name of a dataset's shard index, scores and models: its manifest and every extract setting."""
    trial = "-subset" if _trial(config, d) == "subset" else ""
    packing = {"import" if rawframes(config, d) else "extract": _packing(config, d)}
    return f"{size_label(config, d)}{trial}-{digest({'source': source(config, d), **packing})}"


def data(config: Config, d: str) -> str:
    """``results/d/<data>``: the chunks, shard index and failures of a dataset."""
    return f"results/{d}/{data_dir(config, d)}"


def index(config: Config, d: str) -> str:
    return f"{data(config, d)}/shards.csv"


def models(config: Config, d: str) -> str:
    return f"models/{d}/{data_dir(config, d)}"


# --- models (twostream.kinds names each kind's checkpoints with these) ---


def stream_key(config: Config, d: str, modality: str) -> str:
    wildcards = {"dataset": d, "modality": modality}
    return digest({"spec": settings(specs.StreamSpec, config, wildcards), "launch": _launch(config)})


def stream_model(config: Config, d: str, modality: str, split: int) -> str:
    return f"{models(config, d)}/{modality}-{stream_key(config, d, modality)}/split{split}.pt"


def cmmp_key(config: Config, d: str) -> str:
    wildcards = {"dataset": d, "variant": ""}
    return digest({"spec": settings(specs.CMMPSpec, config, wildcards), "launch": _launch(config),
                   "rgb": stream_key(config, d, "rgb"), "flow": stream_key(config, d, "flow")})


def cmmp_model(config: Config, d: str, split: int, variant: str) -> str:
    return f"{models(config, d)}/cmmp-{cmmp_key(config, d)}/split{split}/{variant}.pt"


def cma_key(config: Config, d: str) -> str:
    wildcards = {"dataset": d, "iteration": 0}
    return digest({"spec": settings(specs.CMASpec, config, wildcards), "launch": _launch(config),
                   "flow": stream_key(config, d, "flow")})


def cma_model(config: Config, d: str, split: int, iteration: int) -> str:
    return f"{models(config, d)}/cma-{cma_key(config, d)}/split{split}/iter{iteration}.pt"


def conv_fusion_key(config: Config, d: str) -> str:
    return digest({"spec": settings(specs.ConvFusionSpec, config, {"dataset": d}), "launch": _launch(config),
                   "rgb": stream_key(config, d, "rgb"), "flow": stream_key(config, d, "flow")})


def conv_fusion_model(config: Config, d: str, split: int) -> str:
    return f"{models(config, d)}/conv_fusion-{conv_fusion_key(config, d)}/split{split}.pt"


# --- scores and the run's tables ---


def scores_dir(config: Config, d: str) -> str:
    """Test scores of a dataset's models under one test protocol: ``<this>/<model path under models(d)>.npz``."""
    return f"{data(config, d)}/scores-{digest(settings(specs.EvaluateSpec, config, {'dataset': d}))}"


def scores(config: Config, d: str, model: str) -> str:
    """The test scores of a checkpoint (a path under ``models(config, d)``)."""
    rel = model.removeprefix(models(config, d) + "/")
    if rel == model or not rel.endswith(".pt"):
        raise ValueError(f"{model}: not a checkpoint of dataset {d!r} under {models(config, d)}")
    return f"{scores_dir(config, d)}/{rel[:-len('.pt')]}.npz"


TABLE_SPECS = (specs.TwoStreamTableSpec, specs.CMMPTable1Spec, specs.CMMPTable2Spec, specs.FusionBaselinesSpec,
               specs.CMATablesSpec, specs.CMAFusionFigureSpec, specs.CMAAttentionFigureSpec)


def run(config: Config, checkpoints: Mapping[str, list[str]]) -> str:
    """``results/<datasets>-<R>``: the folder of the run's tables, figures and summary, R keying every dataset's
    ``checkpoints`` (``twostream.kinds.run_dir`` gives them), its data, its test protocol and the tables' settings."""
    parts = {}
    for d in config["datasets"]:
        tables = {}
        for cls in TABLE_SPECS:
            try:
                tables[cls.__name__] = settings(cls, config, {"dataset": d})
            except KeyError:  # a table of a kind the config does not train
                continue
        parts[d] = {"checkpoints": checkpoints[d], "scores": scores_dir(config, d), "tables": tables}
    return f"results/{'+'.join(sorted(config['datasets']))}-{digest(parts)}"  # in any key order the same
