"""``--spec`` JSON for the twostream commands the tests call: shared training values, overridable by keyword."""

from __future__ import annotations

import json

# The schema's defaults for a schedule's optional keys (workflow/schemas/config.schema.yaml, $defs/schedule_keys).
SCHEDULE = {"lr_steps": [], "weight_decay": 5e-4, "momentum": 0.9, "clip_grad": 0.0, "plateau_patience": 0}
# common.Training values of a small CPU run.
TRAINING = {"segments": 2, "length": 5, "crop": 24, "hflip": False, "batch_size": 2, "workers": 0, "device": "cpu",
            "precision": "auto", "compile": False, "prefetch": 2, "decode": "cpu", "seed": 0, "checkpoint_every": 0}


def training(schedule: dict, **values) -> str:
    """A trainer's spec: ``schedule`` (lr and epochs or iterations, at least) over SCHEDULE, ``values`` over TRAINING."""
    return json.dumps({**TRAINING, **values, "schedule": {**SCHEDULE, **schedule}})


def evaluation(**values) -> str:
    """``twostream evaluate``'s spec: TRAINING's length, crop, hflip, batch size, device and speed options; 2 segments x
    1 crop."""
    base = {k: TRAINING[k] for k in ("length", "crop", "hflip", "batch_size", "workers", "device", "precision", "decode")}
    return json.dumps({**base, "test_segments": 2, "crops": 1, **values})


def schedule(**given):
    """An engine Schedule: ``given`` fields, the rest as the schema's defaults (no lr steps, SGD momentum 0.9, ...)."""
    from twostream.train.engine import Schedule

    return Schedule(**{"milestones": [], "plateau_patience": 0, "momentum": 0.9, "weight_decay": 5e-4,
                       "clip_grad": 0.0, "workers": 0, "checkpoint_every": 0, "precision": "fp32", "compile": False,
                       "prefetch": 2, **given})


def extraction(chunk_size: int, size: tuple[int, int], **values) -> str:
    """``twostream extract``'s spec: the flow section's defaults on the CPU (opencv-cpu), overridable by keyword."""
    return json.dumps({"backend": "opencv-cpu", "device": "auto", "variant": "cpu", "batch_pairs": 0, "bound": 20,
                       "chunk_size": chunk_size, "jpeg_quality": 90, "size": list(size), "length": 5, **values})
