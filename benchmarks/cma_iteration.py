"""One training stage continued from a trained checkpoint, step by step: a CMA iteration, or (``--stream``) the
flow stream alone. The diagnostic behind docs/cma.md, "Why iteration 2 unlearned".

    python benchmarks/cma_iteration.py --init models/synthetic/split1/cma/iter1.pt --iteration 2 \\
        --index results/synthetic/shards.csv [--lr 0.01] [--epochs 3] [--milestones 2] [--plateau 1] [--replay]
    python benchmarks/cma_iteration.py --stream --init models/synthetic/split1/flow.pt --index ... [--lr 0.001]
    python benchmarks/cma_iteration.py --stream --carry-optimizer --index ...   # stage 1 first, then go on with its SGD
    python benchmarks/cma_iteration.py --smoke                                   # tiny, seconds (the test suite runs it)

Every other setting is the embedded default's (``--config``, schema defaults filled in): the CMA spec of the
iteration (batch, segments, crop, dropout, SGD), the evaluation protocol. Records every step's loss, accuracy,
learning rate, gradient norm of the trained stream and of its CMA blocks, and the largest |BN scale| of the CMA
blocks; checks that the frozen branch's parameters and buffers (BatchNorm statistics) are bit-identical after
training; scores the result on the validation and test videos of the split (top-1 of each output and of the
iteration's fusion, cross-entropy of the trained output). Without ``--replay`` the run draws views, batch order and
dropout masks as the pipeline does (``train.run.run_seed``); ``--replay`` draws them from the seed the stage
before drew its own from: the config's seed itself, as every stage did before ``run_seed`` (``--init`` made by
such a pipeline), or the stage-1 run's with ``--carry-optimizer``: the exact samples that stage was trained on,
step for step. ``--stream`` continues the stream checkpoint ``--init`` with the stream's own step (the control:
no CMA blocks, no other branch); with ``--carry-optimizer`` it first trains the flow stream from scratch on the
default's stage-1 schedule (as the pipeline does) and continues with that run's optimiser (momentum).
Prints a summary and writes JSON (``--out``).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import math
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import yaml  # noqa: E402

from twostream import specs  # noqa: E402
from twostream.data.dataset import TSNDataset, read_index, select  # noqa: E402
from twostream.data.shards import write_shard  # noqa: E402
from twostream.eval.predict import predict  # noqa: E402
from twostream.files import write_text  # noqa: E402
from twostream.models import checkpoint  # noqa: E402
from twostream.train import cma, stream  # noqa: E402
from twostream.train.engine import Trainer  # noqa: E402
from twostream.train.run import run_seed, schedule  # noqa: E402

CPU = torch.device("cpu")


def default_config(path: Path) -> dict:
    """A config file with the schema's defaults filled in, as the Snakefile reads it."""
    from snakemake.utils import validate

    config = yaml.safe_load(path.read_text())
    validate(config, str(specs.SCHEMA))
    return config


def digest(modules: list[torch.nn.Module]) -> str:
    """A hash of every parameter and buffer of ``modules``."""
    h = hashlib.sha256()
    for m in modules:
        for k, v in m.state_dict().items():
            h.update(k.encode())
            h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def grad_norm(module: torch.nn.Module) -> float:
    grads = [p.grad.norm() ** 2 for p in module.parameters() if p.grad is not None]
    return float(torch.stack(grads).sum().sqrt()) if grads else 0.0


class Recorder(Trainer):
    """The Trainer, recording each step's loss, accuracy, lr and gradient norms (read after the optimiser step)."""

    def __init__(self, *args, parts: dict[str, torch.nn.Module], cma_blocks: list[torch.nn.ModuleDict], **kw):
        super().__init__(*args, **kw)
        self.parts, self.cma_blocks, self.steps = parts, cma_blocks, []

    def train_step(self, step_fn, batch):
        loss, logs = super().train_step(step_fn, batch)
        gamma = [b.bn.weight.detach().abs().max() for blocks in self.cma_blocks for b in blocks.values()]
        self.steps.append({"step": self.state["step"] + 1, "lr": self.state["lr"], "loss": float(loss.detach()),
                           "acc": float(logs["acc"]), **{f"grad_{k}": grad_norm(m) for k, m in self.parts.items()},
                           "cma_bn_scale": float(max(gamma)) if gamma else 0.0})
        return loss, logs


def start(args: argparse.Namespace, spec: specs.CMASpec) -> tuple[torch.nn.Module, dict, str, object]:
    """(network, checkpoint config, kind, scorer) of the stage to continue."""
    if args.stream:
        net, config = checkpoint.load_stream(args.init)
        return net, config, "stream", stream
    net, config = cma.iteration_start(args.iteration, args.init, pretrained="none", nonlocal_rgb=spec.nonlocal_rgb,
                                      dropout=spec.dropout)
    return net, config, "cma", cma


def evaluate(net: torch.nn.Module, config: dict, code, videos: pd.DataFrame, ev: dict, trained: str) -> dict:
    """Top-1 of every output (and the fusion of a CMA model) and the cross-entropy of the trained output."""
    net.eval()
    modalities, score = code.scorer(net, config)
    data = TSNDataset(videos, modalities, segments=ev["test_segments"], length=ev["length"], crop=ev["crop"],
                      train=False, hflip=ev["hflip"], crops=ev["crops"], decode="cpu")
    s = predict(score, data, modalities, CPU, batch_size=ev["batch_size"], workers=0, precision="fp32")
    y = s["label"]
    out = {m: float((s[m].argmax(1) == y).mean()) for m in modalities if m in s}
    if len(modalities) == 2:
        w = ev["fusion"]
        out["fused"] = float(((w[0] * s["rgb"] + w[1] * s["flow"]).argmax(1) == y).mean())
    out["ce"] = float(F.cross_entropy(torch.from_numpy(s[trained]), torch.from_numpy(y)))
    out["videos"] = int(len(y))
    return out


def stage1_optimizer(config: dict, dataset: str, index: str, split: int) -> tuple[torch.nn.Module, dict, dict, int]:
    """The flow stream trained from scratch on the config's stage-1 schedule (as the pipeline trains it); its
    optimiser's state and the seed of its samples."""
    sspec = specs.parse(specs.StreamSpec, specs.spec_for(specs.StreamSpec, config, {"dataset": dataset,
                                                                                   "modality": "flow"}))
    torch.manual_seed(sspec.seed)
    videos = read_index(index)
    net, sconfig, _ = stream.start(sspec, [], videos)
    seed = run_seed(sspec.seed, "stream", sconfig)
    data = TSNDataset(select(videos, split, "train"), ("flow",), segments=sspec.segments, length=sspec.length,
                      crop=sspec.crop, train=True, hflip=sspec.hflip, seed=seed, decode="cpu")
    with tempfile.TemporaryDirectory() as tmp:
        t = Trainer(net, list(net.parameters()), data, schedule(sspec, len(data)), seed=seed,
                    resume=Path(tmp) / "resume", run_id="stage1", device=CPU)
        t.fit(stream.step(sconfig, CPU))
    return net, sconfig, t.opt.state_dict(), seed


def run(args: argparse.Namespace) -> dict:
    config = default_config(args.config)
    if args.overrides:
        for key, value in (o.split("=", 1) for o in args.overrides):
            node = config
            *path, last = key.split(".")
            for part in path:
                node = node[part]
            node[last] = yaml.safe_load(value)
    dataset = next(iter(config["datasets"]))
    spec = specs.parse(specs.CMASpec, specs.spec_for(specs.CMASpec, config, {"dataset": dataset,
                                                                           "iteration": args.iteration}))
    keys = {"lr": args.lr, "epochs": args.epochs, "milestones": args.milestones, "plateau_patience": args.plateau}
    spec = dataclasses.replace(spec, schedule=dataclasses.replace(
        spec.schedule, **{k: v for k, v in keys.items() if v is not None}))
    opt_state, replay_seed = None, spec.seed  # the seed every stage drew its samples from before run_seed
    if args.carry_optimizer:
        net, net_config, opt_state, replay_seed = stage1_optimizer(config, dataset, args.index, args.split)
        kind, code = "stream", stream
    else:
        torch.manual_seed(spec.seed)
        net, net_config, kind, code = start(args, spec)
    videos = read_index(args.index)
    trained = net_config["trained"] if kind == "cma" else net_config["modality"]
    # its own samples: as the pipeline draws them (a stream continued: a seed apart from the stream's own run's)
    own = run_seed(spec.seed, kind if kind == "cma" else "continued stream", net_config)
    seed = replay_seed if args.replay else own
    data = TSNDataset(select(videos, args.split, "train"), code.modalities(net_config), segments=spec.segments,
                      length=spec.length, crop=spec.crop, train=True, hflip=spec.hflip, seed=seed, decode="cpu")
    if kind == "cma":
        frozen = cma.MODALITIES[1 - cma.MODALITIES.index(trained)]
        parts = {"stream": getattr(net, trained), "cma": getattr(net, f"{trained}_cma")}
        blocks = [net.rgb_cma, net.flow_cma]
        frozen_modules = net.branch(frozen)
    else:
        parts, blocks, frozen_modules = {"stream": net}, [], []
    before = digest(frozen_modules)
    sched = schedule(spec, len(data))
    with tempfile.TemporaryDirectory() as tmp:
        t = Recorder(net, [p for p in net.parameters() if p.requires_grad], data, sched, seed=seed,
                     resume=Path(tmp) / "resume", run_id="benchmark", device=CPU, parts=parts, cma_blocks=blocks)
        if opt_state is not None:
            t.opt.load_state_dict(opt_state)
        t0 = time.time()
        history = t.fit(code.step(net_config, CPU))
        seconds = time.time() - t0
    ev = {"test_segments": config["eval"]["test_segments"], "crops": config["eval"]["crops"],
          "batch_size": config["eval"]["batch_size"], "length": spec.length, "crop": spec.crop, "hflip": spec.hflip,
          "fusion": config["cma"]["fusion"]["odd" if trained == "rgb" else "even"]}
    result = {"args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
              "kind": kind, "trained": trained, "seed": seed, "schedule": dataclasses.asdict(sched),
              "seconds": seconds, "frozen_identical": digest(frozen_modules) == before if frozen_modules else None,
              "steps": t.steps, "epochs": [{k: h[k] for k in ("epoch", "loss", "acc", "lr")} for h in
                                           epoch_means(history)]}
    for subset in ("val", "test"):
        chosen = select(videos, args.split, subset)
        if not chosen.empty:
            result[subset] = evaluate(net, net_config, code, chosen, ev, trained)
    return result


def epoch_means(history: list[dict]) -> list[dict]:
    """The step-weighted mean of each epoch's history rows (what the Trainer logs per epoch)."""
    out = []
    for epoch in sorted({math.ceil(h["epoch"]) - 1 for h in history}):
        rows = [h for h in history if math.ceil(h["epoch"]) - 1 == epoch]
        n = sum(h["steps"] for h in rows)
        out.append({"epoch": epoch, "lr": rows[-1]["lr"],
                    **{k: sum(h[k] * h["steps"] for h in rows) / n for k in ("loss", "acc")}})
    return out


def smoke_data(root: Path) -> tuple[Path, Path, Path]:
    """Tiny random shards (3 classes; split 1: 4 train, 2 val, 2 test videos each), a config for them, and an
    iteration-1 CMA checkpoint on a random flow stream."""
    rng = np.random.default_rng(0)
    rows = []
    for label in range(3):
        for clip, subset in enumerate(["train"] * 4 + ["val"] * 2 + ["test"] * 2):
            shard = root / f"v{label}_{clip}.h5"
            write_shard(shard, rng.integers(0, 256, (6, 20, 20, 3), dtype=np.uint8),
                        rng.integers(1, 256, (5, 20, 20, 2), dtype=np.uint8), {"video_id": shard.stem, "label": label},
                        quality=90)
            rows.append({"video_id": shard.stem, "label": label, "shard": str(shard), "frames": 6, "split1": subset})
    index = root / "shards.csv"
    pd.DataFrame(rows).to_csv(index, index=False)
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["datasets"]["synthetic"].update(size=[20, 20], crop=16)
    config["train"].update(segments=2, length=2, rgb={"lr": 0.01, "steps": 2}, flow={"lr": 0.01, "steps": 2})
    config["cma"].update(batch_size=4, schedule={"lr": 0.01, "steps": 3})
    config["eval"].update(test_segments=2, batch_size=4)
    path = root / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    torch.manual_seed(0)
    flow_config = checkpoint.stream_config("flow", 10, 3, 0.5, 2)
    checkpoint.save(root / "flow.pt", checkpoint.build_stream(flow_config), "stream", flow_config, [])
    net, iter_config = cma.iteration_start(1, root / "flow.pt", pretrained="none", nonlocal_rgb=False, dropout=0.5)
    checkpoint.save(root / "iter1.pt", net, "cma", iter_config, [])
    return index, path, root / "iter1.pt"


def summary(result: dict) -> str:
    lines = [f"{result['kind']} ({result['trained']} trained), seed {result['seed']}, {len(result['steps'])} steps "
             f"in {result['seconds']:.0f} s; frozen branch bit-identical: {result['frozen_identical']}"]
    lines += [f"  epoch {e['epoch']}: loss {e['loss']:.4f} acc {e['acc']:.4f} lr {e['lr']:g}" for e in result["epochs"]]
    steps = result["steps"]
    n = max(len(steps) // 15, 1)
    lines.append(f"  loss, mean of every {n} steps: "
                 + " ".join(f"{np.mean([s['loss'] for s in steps[i:i + n]]):.2f}" for i in range(0, len(steps), n)))
    for subset in ("val", "test"):
        if subset in result:
            lines.append(f"  {subset}: " + " ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}"
                                                    for k, v in result[subset].items()))
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--init", type=Path, help="iteration n-1's CMA checkpoint (the flow stream for iteration 1), or "
                                             "with --stream a stream checkpoint")
    p.add_argument("--iteration", type=int, default=2)
    p.add_argument("--index", help="shard index (results/<dataset>/shards.csv)")
    p.add_argument("--split", type=int, default=1)
    p.add_argument("--config", type=Path, default=REPO / "config.yaml")
    p.add_argument("--set", dest="overrides", nargs="*", default=[], metavar="KEY=VALUE",
                   help="config values over --config (e.g. cma.dropout=0.7)")
    p.add_argument("--lr", type=float)
    p.add_argument("--epochs", type=float)
    p.add_argument("--milestones", type=float, nargs="*")
    p.add_argument("--plateau", type=int, help="plateau_patience")
    p.add_argument("--replay", action="store_true", help="views, batch order and dropout from the config's seed")
    p.add_argument("--stream", action="store_true", help="continue a stream checkpoint alone (the control)")
    p.add_argument("--carry-optimizer", action="store_true",
                   help="with --stream: train the flow stream's stage 1 first and continue with its optimiser")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--smoke", action="store_true")
    p.add_argument("--out", type=Path, default=REPO / "benchmarks/out/cma_iteration.json")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    if args.carry_optimizer:
        args.stream = True
    with tempfile.TemporaryDirectory() as tmp:
        if args.smoke:
            args.index, args.config, args.init = (str(x) if i == 0 else x for i, x in enumerate(smoke_data(Path(tmp))))
            result = {"iteration": run(args)}
            result["stream"] = run(argparse.Namespace(**{**vars(args), "stream": True, "init": Path(tmp) / "flow.pt"}))
        else:
            if args.index is None or (args.init is None and not args.carry_optimizer):
                p.error("--index and --init are required (or --smoke)")
            result = run(args)
    for r in result.values() if args.smoke else [result]:
        print(summary(r))
    write_text(json.dumps(result, indent=1), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
