"""Video-level scores: every (crop, segment) snippet scored, averaged per video.

Scores are raw class scores (logits), averaged over segments and crops as in TSN;
fusion is a weighted sum of the averaged scores, which equals frame-level weighted
fusion followed by averaging (the CMA paper's protocol) because both are linear.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from twostream.files import atomic_path
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


def save_scores(path: str | os.PathLike, video_ids: list[str], scores: dict[str, np.ndarray]) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, video_id=np.array(video_ids), **scores)


def load_scores(path: str | os.PathLike) -> dict[str, np.ndarray]:
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def same_videos(scores: Sequence[dict[str, np.ndarray]], paths: Sequence | None = None) -> None:
    """Raise unless every score set covers the same videos in the same order (``paths``: their files)."""
    for i, s in enumerate(scores[1:], start=1):
        if list(s["video_id"]) != list(scores[0]["video_id"]):
            which = f"{paths[0]} and {paths[i]}" if paths else "the score files"
            raise ValueError(f"{which} cover different test videos")


def load_pair(rgb_path: str | os.PathLike, flow_path: str | os.PathLike) -> dict[str, np.ndarray]:
    """{"rgb", "flow", "label", "video_id"}: the RGB output of one score file and the flow output of another
    (the same file for a two-output model), checked to cover the same videos."""
    rgb, flow = load_scores(rgb_path), load_scores(flow_path)
    same_videos([rgb, flow], [rgb_path, flow_path])
    return {"rgb": rgb["rgb"], "flow": flow["flow"], "label": rgb["label"], "video_id": rgb["video_id"]}
