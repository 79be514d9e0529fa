"""TSN datasets over shards: K aligned (RGB frame, flow stack) snippets per video.

Items are uint8 arrays (convert on the device with ``transforms.to_input``):
  rgb  (K, h, w, 3)      flow  (K, h, w, 2L), channels x0, y0, x1, y1, ...
for training (one random crop and flip shared by all snippets and both modalities, so
RGB and flow stay spatially aligned), and (crops, K, h, w, C) for testing. Randomness
comes from (seed, epoch, item index) only, so results do not depend on worker count
or on resuming mid-run.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

from twostream.data import sampling, transforms
from twostream.data.shards import ShardCache

MODALITIES = ("rgb", "flow")


def select(index: pd.DataFrame, split: int, subset: str) -> pd.DataFrame:
    """Rows of a shard index in ``subset`` ('train' or 'test') of official split ``split``."""
    column = f"split{split}"
    if column not in index.columns:
        raise ValueError(f"the dataset has no split {split}")
    return index[index[column] == subset].reset_index(drop=True)


class TSNDataset(Dataset):
    def __init__(self, videos: pd.DataFrame, modalities: tuple[str, ...] = MODALITIES, *, segments: int = 3,
                 length: int = 5, crop: int = 224, train: bool = True, hflip: bool = True, crops: int = 1,
                 seed: int = 0, cache_size: int = 64):
        unknown = set(modalities) - set(MODALITIES)
        if unknown:
            raise ValueError(f"unknown modalities {sorted(unknown)}")
        self.shards = videos["shard"].tolist()
        self.labels = videos["label"].astype(int).tolist()
        self.frames = videos["frames"].astype(int).tolist()
        self.modalities = tuple(modalities)
        self.segments, self.length, self.crop = segments, length, crop
        self.train, self.hflip, self.crops = train, hflip, crops
        self.seed, self.epoch = seed, 0
        self.cache = ShardCache(cache_size)

    def __len__(self) -> int:
        return len(self.shards)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _snippets(self, i: int, offsets: np.ndarray) -> dict[str, np.ndarray]:
        shard = self.cache.get(self.shards[i])
        out = {}
        if "rgb" in self.modalities:
            out["rgb"] = np.stack([shard.rgb(int(t)) for t in offsets])
        if "flow" in self.modalities:
            out["flow"] = np.stack([shard.flow(int(t), self.length) for t in offsets])  # (K, L, H, W, 2)
        return out

    def __getitem__(self, i: int) -> dict[str, torch.Tensor | int]:
        n = sampling.positions(self.frames[i], self.length)
        if self.train:
            rng = np.random.default_rng([self.seed, self.epoch, i])
            snippets = self._snippets(i, sampling.train_offsets(n, self.segments, rng))
            h, w = snippets[self.modalities[0]].shape[-3:-1]
            top, left = transforms.random_crop_box(h, w, self.crop, rng)
            boxes = [(top, left, bool(self.hflip and rng.random() < 0.5))]
        else:
            snippets = self._snippets(i, sampling.eval_offsets(n, self.segments))
            h, w = snippets[self.modalities[0]].shape[-3:-1]
            boxes = transforms.eval_crop_boxes(h, w, self.crop, self.crops)
        item: dict[str, torch.Tensor | int] = {"label": self.labels[i], "index": i}
        for m, x in snippets.items():
            views = np.stack([self._view(m, x, *box) for box in boxes])
            item[m] = torch.from_numpy(views[0] if self.train else views)
        return item

    def _view(self, modality: str, x: np.ndarray, top: int, left: int, flip: bool) -> np.ndarray:
        x = transforms.crop(x, top, left, self.crop)
        if modality == "rgb":
            return np.ascontiguousarray(transforms.hflip_rgb(x) if flip else x)
        x = transforms.hflip_flow(x) if flip else x
        k, l, h, w, _ = x.shape
        return np.ascontiguousarray(x.transpose(0, 2, 3, 1, 4).reshape(k, h, w, 2 * l))
