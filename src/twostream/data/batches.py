"""Finishing loader batches on the device: a plain copy (CPU decoding) or batched JPEG decoding there.

With ``decode: gpu`` the loader does no decoding: an item carries its snippets' JPEG files and
its views (top, left, flip) as drawn by ``TSNDataset.plan`` (the same draws as the CPU path), a
batch concatenates the files into one tensor (one pinned copy), and ``decode`` turns them into
the tensors the CPU path returns: ``torchvision.io.decode_jpeg`` on the whole list (nvJPEG on
CUDA), then the crops and flips of ``transforms.crop_views`` on the device. Flow planes of a shard in
another encoding (an import) are mapped through its grey-level table there, as ``Shard.flow_planes`` does.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch

DECODES = ("auto", "cpu", "gpu")


def resolve_decode(name: str, device: torch.device) -> str:
    """``auto`` -> gpu on CUDA, cpu elsewhere; ``gpu`` on a CPU device decodes with torchvision on the CPU."""
    if name not in DECODES:
        raise ValueError(f"decode must be one of {DECODES}, got {name!r}")
    if name == "auto":
        return "gpu" if device.type == "cuda" else "cpu"
    return name


def to_device(batch: dict[str, Any], device: torch.device) -> dict[str, Any]:
    """A collated batch's tensors on ``device``, copied without blocking (from pinned memory on CUDA)."""
    return {k: v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}


def encoded(files: list[list[Any]]) -> tuple[torch.Tensor, torch.Tensor]:
    """K groups of P JPEG files (1-D uint8 arrays) -> (their concatenation, (K, P) byte sizes)."""
    flat = [torch.as_tensor(f) for group in files for f in group]
    sizes = torch.tensor([[len(f) for f in group] for group in files], dtype=torch.int64)
    return torch.cat(flat), sizes


IDENTITY = torch.arange(256, dtype=torch.uint8)


def collate(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Encoded items -> labels, indices, views (B, crops, 3), per modality one byte tensor and (B, K, P) sizes,
    and, where an item's flow is in another encoding, every item's grey-level map (B, 256) (identity elsewhere)."""
    out: dict[str, Any] = {"label": torch.tensor([it["label"] for it in items]),
                           "index": torch.tensor([it["index"] for it in items]),
                           "views": torch.stack([it["views"] for it in items])}
    for key in ("rgb", "flow"):
        if f"{key}_jpeg" in items[0]:
            out[f"{key}_jpeg"] = torch.cat([it[f"{key}_jpeg"] for it in items])
            out[f"{key}_sizes"] = torch.stack([it[f"{key}_sizes"] for it in items])
    if any("flow_table" in it for it in items):
        out["flow_tables"] = torch.stack([it.get("flow_table", IDENTITY) for it in items])
    return out


def decode(batch: dict[str, Any], device: torch.device, crop: int, train: bool) -> dict[str, Any]:
    """An encoded batch -> the CPU path's batch on ``device``: (B, [crops,] K, crop, crop, C) uint8 per modality."""
    from torchvision.io import ImageReadMode, decode_jpeg

    from twostream.data.transforms import crop_views

    out = to_device({k: batch[k] for k in ("label", "index")}, device)
    views = batch["views"].tolist()
    for key, mode in (("rgb", ImageReadMode.RGB), ("flow", ImageReadMode.GRAY)):
        if f"{key}_jpeg" not in batch:
            continue
        sizes = batch[f"{key}_sizes"]
        b, k, p = sizes.shape
        files = list(torch.split(batch[f"{key}_jpeg"], sizes.flatten().tolist()))
        with warnings.catch_warnings():  # torchvision 0.29 deprecates its decoders for TorchCodec's (not installed)
            warnings.filterwarnings("ignore", "The image decoding", DeprecationWarning)
            images = decode_jpeg(files, mode=mode, device=device)
        tables = batch.get("flow_tables") if key == "flow" else None
        mapped = [] if tables is None else [bool((t != IDENTITY).any()) for t in tables]
        tables = None if tables is None else tables.to(device)
        videos = []
        for v in range(b):
            frames = torch.stack(images[v * k * p:(v + 1) * k * p])  # (K P, c, H, W)
            frames = frames.reshape(k, -1, *frames.shape[-2:])  # (K, C, H, W)
            if mapped and mapped[v]:  # flow in another encoding: to this project's quantisation
                frames = tables[v][frames.long()]
            videos.append(crop_views(frames, views[v], crop, negate_x=key == "flow"))
        x = torch.stack(videos).permute(0, 1, 2, 4, 5, 3).contiguous()  # (B, crops, K, crop, crop, C)
        out[key] = x[:, 0] if train else x
    return out
