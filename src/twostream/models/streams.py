"""ResNet streams for RGB (3 channels) and flow (2L channels), with TSN-style initialisation."""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn as nn
import torchvision
from torchvision.models.resnet import BasicBlock, ResNet

# Depth 10 is not in torchvision's zoo; it is the same ResNet class with one block per stage.
DEPTHS = (10, 18, 34, 50, 101, 152)


class WeightsError(RuntimeError):
    """Pretrained weights were asked for but are not available."""


def resnet(depth: int) -> ResNet:
    """A randomly initialised torchvision ResNet of the given depth."""
    if depth == 10:
        return ResNet(BasicBlock, [1, 1, 1, 1])
    if depth not in DEPTHS:
        raise ValueError(f"unsupported ResNet depth {depth}; choose from {DEPTHS}")
    return getattr(torchvision.models, f"resnet{depth}")(weights=None)


def imagenet_weights(depth: int) -> torchvision.models.WeightsEnum:
    """torchvision's default ImageNet weights entry for a ResNet depth."""
    if depth == 10:
        raise WeightsError("no ImageNet weights exist for ResNet-10; use pretrained: none or a path")
    return torchvision.models.get_model_weights(f"resnet{depth}").DEFAULT


def imagenet_cache_path(depth: int) -> Path:
    """Where torchvision caches these weights (under TORCH_HOME)."""
    url = imagenet_weights(depth).url
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(url)


def check_pretrained(depth: int, pretrained: str) -> None:
    """Raise WeightsError now, before any training, if the weights ``pretrained`` names are unavailable."""
    if pretrained == "imagenet":
        if not imagenet_cache_path(depth).is_file():
            raise WeightsError(
                f"ImageNet weights for ResNet-{depth} are not in the cache ({imagenet_cache_path(depth)}); "
                f"run `twostream weights --depth {depth}` on a machine with internet access"
            )
    elif pretrained != "none" and not Path(pretrained).is_file():
        raise WeightsError(f"{pretrained}: pretrained weights file not found")


def load_state(depth: int, pretrained: str) -> dict[str, torch.Tensor] | None:
    """The pretrained state dict named by ``pretrained``: ``none``, ``imagenet`` or a file path.

    ``imagenet`` reads torchvision's cache (TORCH_HOME) and never downloads: fetch the
    weights beforehand with ``twostream weights`` on a machine with internet access.
    """
    if pretrained == "none":
        return None
    check_pretrained(depth, pretrained)
    path = imagenet_cache_path(depth) if pretrained == "imagenet" else Path(pretrained)
    state = torch.load(path, map_location="cpu", weights_only=True)
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and key in state and isinstance(state[key], dict):
            state = state[key]
    return state


def cross_modality_conv1(weight: torch.Tensor, in_channels: int) -> torch.Tensor:
    """TSN cross-modality initialisation: average conv1 over RGB channels, replicate to ``in_channels``."""
    mean = weight.mean(dim=1, keepdim=True)
    return mean.expand(-1, in_channels, -1, -1).contiguous()


def backbone(depth: int, in_channels: int = 3, pretrained: str = "none") -> ResNet:
    """A ResNet with ``fc`` removed (Identity), ``in_channels`` inputs and optional pretrained weights."""
    net = resnet(depth)
    state = load_state(depth, pretrained)
    if state is not None:
        state = {k: v for k, v in state.items() if not k.startswith("fc.")}
        if in_channels != 3:
            state["conv1.weight"] = cross_modality_conv1(state["conv1.weight"], in_channels)
        elif state["conv1.weight"].shape[1] != 3:
            raise WeightsError(f"{pretrained}: conv1 has {state['conv1.weight'].shape[1]} input channels, expected 3")
    if in_channels != 3:
        old = net.conv1
        net.conv1 = nn.Conv2d(in_channels, old.out_channels, old.kernel_size, old.stride, old.padding, bias=False)
    if state is not None:
        missing, unexpected = net.load_state_dict(state, strict=False)
        missing = [k for k in missing if not k.startswith("fc.")]
        if missing or unexpected:
            raise WeightsError(f"{pretrained}: weights do not fit ResNet-{depth} (missing {missing[:3]}, unexpected {unexpected[:3]})")
    net.fc = nn.Identity()
    return net


def feature_dim(net: ResNet) -> int:
    """Channels of the pooled feature (512 for ResNet-10/18/34, 2048 for ResNet-50 and deeper)."""
    last = net.layer4[-1]
    return last.bn3.num_features if hasattr(last, "bn3") else last.bn2.num_features


class StreamNet(nn.Module):
    """One stream: ResNet backbone, dropout, linear classifier; input (N, C, H, W) snippets."""

    def __init__(self, depth: int, in_channels: int, num_classes: int, *, dropout: float, pretrained: str = "none"):
        super().__init__()
        self.backbone = backbone(depth, in_channels, pretrained)
        self.dim = feature_dim(self.backbone)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(self.dim, num_classes)
        self.in_channels = in_channels

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled features (N, D)."""
        return self.backbone(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.dropout(self.features(x)))


def consensus(scores: torch.Tensor, k: int) -> torch.Tensor:
    """TSN consensus: the mean over each video's ``k`` snippets of (B * k, C) or (B, k, C) scores -> (B, C)."""
    return scores.reshape(-1, k, scores.shape[-1]).mean(dim=1)


def tsn_forward(net: nn.Module, clips: torch.Tensor) -> torch.Tensor:
    """Video scores from a (B, K, C, H, W) batch: run every snippet, average over the K segments."""
    return consensus(net(clips.flatten(0, 1)), clips.shape[1])
