"""TSN datasets over shards: K aligned (RGB frame, flow stack) snippets per video.

Items are uint8 arrays (convert on the device with ``transforms.to_input``):
  rgb  (K, h, w, 3)      flow  (K, h, w, 2L), channels x0, y0, x1, y1, ...
for training (one random crop and flip shared by all snippets and both modalities, so
RGB and flow stay spatially aligned), and (crops, K, h, w, C) for testing (test-time flips only
where ``hflip``, as in training). Randomness
comes from (seed, epoch, item index) only, so results do not depend on worker count
or on resuming mid-run. ``plan`` draws it; with ``decode="gpu"`` items carry the plan and
the undecoded JPEG files instead, and ``to_device`` decodes and crops them on the device
(``twostream.data.batches``) into the same tensors.
"""

from __future__ import annotations

import os

import cv2
import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset, default_collate

from twostream.data import batches, sampling, transforms
from twostream.data.shards import ShardCache

MODALITIES = ("rgb", "flow")


def read_index(path: str | os.PathLike) -> pd.DataFrame:
    """A shard index CSV (``twostream index``), empty strings kept as such."""
    return pd.read_csv(path, keep_default_na=False)


def select(index: pd.DataFrame, split: int, subset: str) -> pd.DataFrame:
    """Rows of a shard index in ``subset`` ('train' or 'test') of official split ``split``."""
    column = f"split{split}"
    if column not in index.columns:
        raise ValueError(f"the dataset has no split {split}")
    return index[index[column] == subset].reset_index(drop=True)


class TSNDataset(Dataset):
    def __init__(self, videos: pd.DataFrame, modalities: tuple[str, ...] = MODALITIES, *, segments: int,
                 length: int, crop: int, train: bool = True, hflip: bool = True, crops: int = 1,
                 seed: int = 0, cache_size: int = 64, decode: str):
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
        if decode not in ("cpu", "gpu"):
            raise ValueError(f"decode must be cpu or gpu (resolve auto with batches.resolve_decode), got {decode!r}")
        self.decode = decode
        self.cache = ShardCache(cache_size)

    def __len__(self) -> int:
        return len(self.shards)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _decode(self, i: int, offsets: np.ndarray) -> tuple[list[np.ndarray], list[list[np.ndarray]]]:
        """RGB frames and flow stacks (as lists of 2L planes) at the snippet positions."""
        shard = self.cache.get(self.shards[i])
        rgb = [shard.rgb(int(t)) for t in offsets] if "rgb" in self.modalities else []
        flow = [shard.flow_planes(int(t), self.length) for t in offsets] if "flow" in self.modalities else []
        return rgb, flow

    def plan(self, i: int) -> tuple[np.ndarray, list[tuple[int, int, bool]]]:
        """Item i's snippet positions and views (top, left, flip) at the current epoch: every random draw."""
        n = sampling.positions(self.frames[i], self.length)
        h, w = self.cache.get(self.shards[i]).size
        if not self.train:
            return sampling.eval_offsets(n, self.segments), transforms.eval_crop_boxes(h, w, self.crop, self.crops, self.hflip)
        rng = np.random.default_rng([self.seed, self.epoch, i])
        offsets = sampling.train_offsets(n, self.segments, rng)
        top, left = transforms.random_crop_box(h, w, self.crop, rng)
        return offsets, [(top, left, bool(self.hflip and rng.random() < 0.5))]

    def __getitem__(self, i: int) -> dict[str, torch.Tensor | int]:
        offsets, boxes = self.plan(i)
        item: dict[str, torch.Tensor | int] = {"label": self.labels[i], "index": i}
        if self.decode == "gpu":
            return {**item, **self._encoded(i, offsets), "views": torch.tensor(boxes, dtype=torch.int64)}
        rgb, flow = self._decode(i, offsets)
        if rgb:
            views = np.stack([np.stack([transforms.view(f, *box[:2], self.crop, box[2]) for f in rgb]) for box in boxes])
            item["rgb"] = torch.from_numpy(views[0] if self.train else views)
        if flow:
            views = np.stack([self._flow_view(flow, *box) for box in boxes])
            item["flow"] = torch.from_numpy(views[0] if self.train else views)
        return item

    def _encoded(self, i: int, offsets: np.ndarray) -> dict[str, torch.Tensor]:
        """The snippets' undecoded JPEG files: per modality their concatenation and (K, P) sizes."""
        shard = self.cache.get(self.shards[i])
        out = {}
        if "rgb" in self.modalities:
            out["rgb_jpeg"], out["rgb_sizes"] = batches.encoded([[shard.rgb_bytes(int(t))] for t in offsets])
        if "flow" in self.modalities:
            out["flow_jpeg"], out["flow_sizes"] = batches.encoded(
                [shard.flow_bytes(int(t), self.length) for t in offsets])
            if shard.flow_table is not None:  # flow in another encoding (an import): mapped after decoding
                out["flow_table"] = torch.from_numpy(shard.flow_table)
        return out

    def collate(self, items: list[dict]) -> dict:
        """A batch of items (encoded ones concatenated for one copy)."""
        return batches.collate(items) if self.decode == "gpu" else default_collate(items)

    def to_device(self, batch: dict, device: torch.device) -> dict:
        """A collated batch on ``device``, decoded there if it is encoded."""
        if self.decode == "gpu":
            return batches.decode(batch, device, self.crop, self.train)
        return batches.to_device(batch, device)

    def _flow_view(self, stacks: list[list[np.ndarray]], top: int, left: int, flip: bool) -> np.ndarray:
        """(K, h, w, 2L) crops of the stacks; a flip mirrors every plane and negates the x planes."""
        out = np.empty((len(stacks), self.crop, self.crop, 2 * self.length), np.uint8)
        for k, planes in enumerate(stacks):
            out[k] = cv2.merge([transforms.view(p, top, left, self.crop, flip, negate=j % 2 == 0)
                                for j, p in enumerate(planes)])
        return out
