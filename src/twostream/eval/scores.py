"""Score files (``twostream evaluate``'s output): per-video scores, one array per model output, with the videos'
ids and labels in one .npz. No torch here, so that the table commands start in a fraction of a second."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from twostream.files import atomic_path

FUSED = "fused"  # the one output of a conv-fusion score file


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
