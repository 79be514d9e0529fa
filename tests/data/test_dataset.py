"""TSN dataset: aligned snippets, shared crop/flip, determinism, test views."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from twostream.data.dataset import TSNDataset, select
from twostream.data.shards import quantize_flow, write_shard


@pytest.fixture
def videos(tmp_path) -> pd.DataFrame:
    """Two shards whose frame t has value 10 t in R and whose flow field t has x = t / 20."""
    rows = []
    for v, frames in enumerate((12, 4)):
        rgb = np.zeros((frames, 32, 40, 3), np.uint8)
        rgb[..., 2] = (10 * np.arange(frames))[:, None, None]  # BGR: red channel
        rgb[..., 1] = 5 * np.arange(40)  # green grows left to right: tells flips apart
        flow = np.zeros((frames - 1, 32, 40, 2), np.float32)
        flow[..., 0] = (np.arange(frames - 1) / 20)[:, None, None]
        flow[:, :, :20, 1] = 0.5  # left half moves down: tells crops and flips apart
        path = tmp_path / f"{v}.h5"
        write_shard(path, rgb, quantize_flow(flow), {}, quality=100)
        rows.append({"shard": str(path), "label": v, "frames": frames, "split1": "train" if v == 0 else "test"})
    return pd.DataFrame(rows)


def test_select(videos) -> None:
    assert select(videos, 1, "train")["label"].tolist() == [0]
    with pytest.raises(ValueError, match="no split 2"):
        select(videos, 2, "train")


def test_training_item_is_aligned(videos) -> None:
    data = TSNDataset(videos, segments=3, length=5, crop=24, train=True, hflip=False, seed=1, decode="cpu")
    item = data[0]
    assert item["rgb"].shape == (3, 24, 24, 3) and item["flow"].shape == (3, 24, 24, 10)
    frame_t = item["rgb"][:, 0, 0, 0].numpy() / 10  # RGB order: red first
    flow_x = (item["flow"][:, 0, 0, 0].numpy().astype(float) - 128) / 127 * 20  # first field's x
    assert np.allclose(frame_t, np.round(flow_x), atol=0.1)  # RGB frame t aligned with flow field t
    assert np.all(np.diff(frame_t) > 0) and frame_t.max() <= 12 - 5  # one per segment, stack inside the video
    stack = item["flow"][0, 0, 0, 0::2].numpy().astype(float)
    assert np.all(np.diff(stack) > 0)  # channels x0, y0, x1, y1, ...: consecutive fields


def test_same_crop_and_flip_for_both_modalities(videos) -> None:
    data = TSNDataset(videos, segments=1, length=5, crop=24, train=True, hflip=True, seed=0, decode="cpu")
    flips = 0
    for epoch in range(16):
        data.set_epoch(epoch)
        item = data[0]
        green = item["rgb"][0, 0, :, 1].numpy().astype(int)
        rgb_flipped = green[0] > green[-1]
        y = item["flow"][0, :, :, 1].numpy().astype(int) - 128  # field 0's y: 64 on the original's left half
        flow_flipped = y[:, 0].mean() < 32
        assert rgb_flipped == flow_flipped
        # The same crop: the original column of crop column 0 agrees between modalities.
        column = green[0] // 5
        assert (column < 20) == (y[:, 0].mean() > 32)
        x = item["flow"][0, 0, 0, 0].item() - 128
        assert x <= 0 if rgb_flipped else x >= 0  # the flip negates flow-x
        flips += rgb_flipped
    assert 0 < flips < 16


def test_determinism(videos) -> None:
    a = TSNDataset(videos, segments=3, length=5, crop=24, seed=5, decode="cpu")
    b = TSNDataset(videos, segments=3, length=5, crop=24, seed=5, decode="cpu")
    assert all((a[0][m] == b[0][m]).all() for m in ("rgb", "flow"))
    b.set_epoch(1)
    assert any((a[0][m] != b[0][m]).any() for m in ("rgb", "flow"))


def test_short_video_repeats_last_field(videos) -> None:
    data = TSNDataset(videos, segments=2, length=5, crop=24, train=False, crops=1, decode="cpu")
    item = data[1]  # 4 frames: 3 flow fields, shorter than one stack of 5
    assert item["flow"].shape == (1, 2, 24, 24, 10)
    x = item["flow"][0, 0, 0, 0, 0::2].numpy().astype(int)
    assert x[2] == x[3] == x[4] != x[0]


def test_test_views(videos) -> None:
    data = TSNDataset(videos, ("rgb",), segments=4, length=5, crop=24, train=False, crops=10, decode="cpu")
    item = data[0]
    assert item["rgb"].shape == (10, 4, 24, 24, 3) and "flow" not in item


def test_test_flips_follow_hflip(videos) -> None:
    """Without training flips (labels with left/right) the 10-crop test is the 5 unflipped crops."""
    def x_flow(item) -> np.ndarray:
        return item["flow"][..., 0::2].numpy().astype(int) - 128  # every field's x, per view

    flipped = TSNDataset(videos, segments=2, length=5, crop=24, train=False, crops=10, hflip=True, decode="cpu")[0]
    kept = TSNDataset(videos, segments=2, length=5, crop=24, train=False, crops=10, hflip=False, decode="cpu")[0]
    assert flipped["flow"].shape[0] == 10 and kept["flow"].shape[0] == 5 and kept["rgb"].shape[0] == 5
    assert np.array_equal(kept["flow"].numpy(), flipped["flow"][:5].numpy())
    assert (x_flow(kept) >= 0).all()  # fields move right (x = t / 20 >= 0): no view mirrors them
    assert (x_flow(flipped)[5:] <= 0).all() and (x_flow(flipped)[5:] < 0).any()
    green = kept["rgb"][..., 1].numpy().astype(int)
    assert (green[..., 0] < green[..., -1]).all()  # and no RGB view is mirrored
