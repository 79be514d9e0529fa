"""Video-level scores: every (crop, segment) snippet scored, averaged per video.

Scores are raw class scores (logits), averaged over segments and crops as in TSN;
fusion is a weighted sum of the averaged scores, which equals frame-level weighted
fusion followed by averaging (the CMA paper's protocol) because both are linear.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from twostream.models.streams import consensus

# Maps a batch of video clips {modality: (N, K, C, h, w) float} to {output name: (N, classes) scores}.
ClipScorer = Callable[[dict[str, torch.Tensor]], dict[str, torch.Tensor]]
Scored = tuple[tuple[str, ...], ClipScorer]  # a model kind's scorer: (modalities it reads, ClipScorer)


@torch.no_grad()
def predict(score: ClipScorer, dataset, modalities: tuple[str, ...], device: torch.device, *,
            batch_size: int, workers: int, precision: str, progress: bool = True) -> dict[str, np.ndarray]:
    """Per-video mean scores {output name: (videos, classes)} plus ``label`` (``progress``: a progress bar on stderr).

    The scorer runs under ``precision`` (``twostream.precision``); scores are averaged in
    fp32 on the device and copied to the host once, at the end.
    """
    from twostream.data.batches import to_device
    from twostream.data.transforms import to_input
    from twostream import precision as precisions

    dtype = precisions.resolve(precision, device)
    move = getattr(dataset, "to_device", to_device)
    loader = DataLoader(dataset, batch_size=batch_size, num_workers=workers, pin_memory=device.type == "cuda",
                        collate_fn=getattr(dataset, "collate", None))
    out: dict[str, list[torch.Tensor]] = {}
    labels = []
    for batch in tqdm(loader, desc="evaluate", unit="batch", file=sys.stderr, disable=not progress,
                      mininterval=5 if not sys.stderr.isatty() else 0.1):
        labels.append(batch["label"])
        batch = move(batch, device)
        crops = batch[modalities[0]].shape[1]
        clips = {m: to_input(batch[m].flatten(0, 1), m) for m in modalities}
        with precisions.autocast(device, dtype):
            scores = score(clips)
        for name, s in scores.items():
            out.setdefault(name, []).append(consensus(s.float(), crops))
    result = {name: torch.cat(v).cpu().numpy() for name, v in out.items()}
    result["label"] = torch.cat(labels).numpy()
    return result
