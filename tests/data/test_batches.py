"""GPU decode path, checked on the CPU: the same draws as the CPU path and, decoded by torchvision, the same tensors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from twostream.data import batches, transforms
from twostream.data.dataset import TSNDataset
from twostream.data.shards import quantize_flow, write_shard

CPU = torch.device("cpu")
# cv2 and torchvision decode with libjpeg(-turbo); nvJPEG may differ by a level or two (the device check compares).
JPEG_TOLERANCE = 2


@pytest.fixture
def videos(tmp_path) -> pd.DataFrame:
    """Three shards of textured frames and flow (quality 90, so decoders can differ), two sizes."""
    rng = np.random.default_rng(0)
    rows = []
    for v, (frames, h, w) in enumerate(((12, 36, 44), (7, 36, 44), (9, 40, 32))):
        rgb = rng.integers(0, 256, (frames, h, w, 3), dtype=np.uint8)
        flow = rng.uniform(-1, 1, (frames - 1, h, w, 2)).astype(np.float32)
        path = tmp_path / f"{v}.h5"
        write_shard(path, rgb, quantize_flow(flow), {}, quality=90)
        rows.append({"shard": str(path), "label": v, "frames": frames})
    return pd.DataFrame(rows)


def pair(videos, **kw) -> tuple[TSNDataset, TSNDataset]:
    return TSNDataset(videos, decode="cpu", **kw), TSNDataset(videos, decode="gpu", **kw)


def assert_close(a: torch.Tensor, b: torch.Tensor) -> None:
    assert a.shape == b.shape and a.dtype == b.dtype == torch.uint8
    assert (a.int() - b.int()).abs().max() <= JPEG_TOLERANCE


def test_encoded_items_carry_the_cpu_paths_draws(videos) -> None:
    cpu, gpu = pair(videos, segments=3, length=5, crop=24, train=True, hflip=True, seed=5)
    for epoch in range(4):
        cpu.set_epoch(epoch)
        gpu.set_epoch(epoch)
        for i in range(len(videos)):
            offsets, views = cpu.plan(i)
            assert gpu[i]["views"].tolist() == [list(v) for v in views]
            assert gpu[i]["rgb_sizes"].shape == (3, 1) and gpu[i]["flow_sizes"].shape == (3, 10)


@pytest.mark.parametrize("train", [True, False], ids=["train", "test-10-crops"])
def test_decoded_on_the_device_equals_the_cpu_path(videos, train) -> None:
    cpu, gpu = pair(videos, segments=3, length=5, crop=24, train=train, hflip=True, crops=10, seed=2)
    flips = set()
    for epoch in range(3 if train else 1):
        for data in (cpu, gpu):
            data.set_epoch(epoch)
        items = range(len(videos))
        expected = cpu.to_device(cpu.collate([cpu[i] for i in items]), CPU)
        got = gpu.to_device(gpu.collate([gpu[i] for i in items]), CPU)
        flips |= {bool(v[2]) for i in items for v in gpu[i]["views"].tolist()}
        for key in ("rgb", "flow"):
            assert_close(got[key], expected[key])
            assert got[key].is_contiguous()
        assert torch.equal(got["label"], expected["label"]) and torch.equal(got["index"], expected["index"])
    assert flips == {False, True}  # both branches of the flip ran


def test_flow_in_another_encoding_is_mapped_on_both_paths(videos, tmp_path) -> None:
    """A batch mixing an imported denseflow shard with the pipeline's: both paths map its planes alike."""
    rng = np.random.default_rng(4)
    rgb = rng.integers(0, 256, (8, 36, 44, 3), dtype=np.uint8)
    flow = rng.integers(0, 256, (7, 36, 44, 2), dtype=np.uint8)
    path = tmp_path / "denseflow.h5"
    write_shard(path, rgb, flow, {"flow_encoding": "denseflow", "flow_encoding_bound": 15.0, "flow_bound": 20.0},
                quality=90)
    mixed = pd.concat([videos, pd.DataFrame([{"shard": str(path), "label": 3, "frames": 8}])], ignore_index=True)
    cpu, gpu = pair(mixed, segments=2, length=3, crop=24, train=False, hflip=True, crops=10, seed=1)
    items = range(len(mixed))
    expected = cpu.to_device(cpu.collate([cpu[i] for i in items]), CPU)
    got = gpu.to_device(gpu.collate([gpu[i] for i in items]), CPU)
    assert_close(got["flow"], expected["flow"])
    imported = expected["flow"][3]  # +-15 px of +-20: levels 128 -+ 95 at most
    assert imported.max() <= 223 + JPEG_TOLERANCE and imported.min() >= 33 - JPEG_TOLERANCE
    assert "flow_tables" not in gpu.collate([gpu[i] for i in range(3)])  # the pipeline's shards: nothing to map


def test_device_crops_and_flips_equal_the_numpy_views() -> None:
    rng = np.random.default_rng(1)
    planes = rng.integers(0, 256, (2, 10, 16, 20), dtype=np.uint8)  # (K, 2L, H, W) flow planes
    views = [(1, 2, False), (3, 0, True)]
    got = transforms.crop_views(torch.from_numpy(planes), views, 8, negate_x=True)
    for v, (top, left, flip) in enumerate(views):
        for k in range(2):
            for j in range(10):
                ref = transforms.view(planes[k, j], top, left, 8, flip, negate=j % 2 == 0)
                assert np.array_equal(got[v, k, j].numpy(), ref)


def test_decode_choice() -> None:
    assert batches.resolve_decode("auto", CPU) == "cpu"
    assert batches.resolve_decode("auto", torch.device("cuda")) == "gpu"
    assert batches.resolve_decode("gpu", CPU) == "gpu"
    with pytest.raises(ValueError, match="decode must be one of"):
        batches.resolve_decode("nvdec", CPU)
