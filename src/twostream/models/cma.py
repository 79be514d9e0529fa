"""Cross-modality attention (CMA, Chi et al., 2019): the block, non-local blocks, and the two-branch network."""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from typing import Any

import torch
import torch.nn as nn
from torchvision.models.resnet import ResNet

from . import checkpoint
from .checkpoint import build_stream
from .streams import StreamNet, consensus

BRANCHES = ("rgb", "flow")
STAGES = ("layer1", "layer2", "layer3", "layer4")
CMA_STAGES = ("layer2", "layer3")  # res3 and res4


class CMABlock(nn.Module):
    """out = x + BN(W_out z), z = softmax(q(x) k(y')^T / sqrt(d_k)) v(y'), y' = maxpool(y) (Sec. 3).

    Queries come from this branch's map ``x``, keys and values from the other branch's map ``y``
    at the same stage (same channels; sizes may differ). q, k, v are 1x1 (1x1x1) convolutions to
    d_k = C/2 channels. ``y`` is max-pooled with kernel 2 and stride 2 over space only (time is kept for
    5-D inputs) *before* conv_k and conv_v, as in the non-local networks' code; ``ceil_mode``
    keeps the last row/column of odd-sized maps, so a 5x5 map pools to 3x3. The BN after W_out
    starts with scale 0 and bias 0, which makes the block exactly the identity at initialisation.
    The 1x1 convolutions use He initialisation (fan-out), like torchvision's ResNets.

    Works on (N, C, H, W) with ``dim=2`` and (N, C, T, H, W) with ``dim=3``. With
    ``keep_attention`` set, each forward stores ``attention`` (N, Nq, Nk), ``query_shape`` and
    ``key_shape`` (the pooled key grid): key index j is position ``unravel_index(j, key_shape)``.
    """

    def __init__(self, channels: int, dim: int = 2, keep_attention: bool = False):
        super().__init__()
        if dim not in (2, 3):
            raise ValueError(f"dim must be 2 or 3, got {dim}")
        conv, norm = (nn.Conv2d, nn.BatchNorm2d) if dim == 2 else (nn.Conv3d, nn.BatchNorm3d)
        pool = (2, 2) if dim == 2 else (1, 2, 2)
        self.d_k = channels // 2
        self.query = conv(channels, self.d_k, 1)
        self.key = conv(channels, self.d_k, 1)
        self.value = conv(channels, self.d_k, 1)
        self.pool = (nn.MaxPool2d if dim == 2 else nn.MaxPool3d)(pool, pool, ceil_mode=True)
        self.out = conv(self.d_k, channels, 1, bias=False)
        self.bn = norm(channels)
        for m in (self.query, self.key, self.value, self.out):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        nn.init.zeros_(self.bn.weight)
        nn.init.zeros_(self.bn.bias)
        self.keep_attention = keep_attention

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        y = self.pool(y)
        q = self.query(x).flatten(2).transpose(1, 2)  # N, Nq, d_k
        k = self.key(y).flatten(2)  # N, d_k, Nk
        v = self.value(y).flatten(2).transpose(1, 2)  # N, Nk, d_k
        attention = torch.softmax(q @ k / math.sqrt(self.d_k), dim=-1)
        z = (attention @ v).transpose(1, 2).reshape(x.shape[0], self.d_k, *x.shape[2:])
        if self.keep_attention:
            self.attention = attention.detach()
            self.query_shape, self.key_shape = tuple(x.shape[2:]), tuple(y.shape[2:])
        return x + self.bn(self.out(z))


class NonLocalBlock(CMABlock):
    """Non-local block (embedded Gaussian): a CMA block whose queries, keys and values come from ``x``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x, x)


def insertion_points(backbone: ResNet) -> list[tuple[str, int]]:
    """(stage, block index) after which blocks go: every other residual block of res3 and res4,
    counted from each stage's last block (ResNet-50: layer2 1, 3; layer3 1, 3, 5)."""
    points = []
    for stage in CMA_STAGES:
        n = len(getattr(backbone, stage))
        points += [(stage, i) for i in range((n - 1) % 2, n, 2)]
    return points


def other_branch(branch: str) -> str:
    """``flow`` for ``rgb`` and vice versa."""
    if branch not in BRANCHES:
        raise ValueError(f"unknown branch {branch!r}; choose from {BRANCHES}")
    return BRANCHES[1 - BRANCHES.index(branch)]


def block_key(stage: str, index: int) -> str:
    """Name of the blocks after residual block ``index`` of ``stage`` (``layer3_1``)."""
    return f"{stage}_{index}"


def blocks(backbone: ResNet) -> Iterator[tuple[str, int, nn.Module]]:
    """(stage, index, residual block) of a ResNet in forward order."""
    for stage in STAGES:
        for i, block in enumerate(getattr(backbone, stage)):
            yield stage, i, block


def _out_channels(block: nn.Module) -> int:
    return block.bn3.num_features if hasattr(block, "bn3") else block.bn2.num_features


def _stem(backbone: ResNet, x: torch.Tensor) -> torch.Tensor:
    return backbone.maxpool(backbone.relu(backbone.bn1(backbone.conv1(x))))


def _head(stream: StreamNet, x: torch.Tensor) -> torch.Tensor:
    return stream.fc(stream.dropout(torch.flatten(stream.backbone.avgpool(x), 1)))


class CMANet(nn.Module):
    """RGB and flow ResNet branches (StreamNets) exchanging information through CMA blocks.

    At every insertion point both branches' blocks read the other branch's *pre-CMA* map: the
    RGB block attends from RGB to flow, the flow block from flow to RGB. With ``nonlocal_rgb`` a
    non-local block sits just before the CMA block in the RGB branch (Sec. 5.5); the flow branch's
    block then reads the RGB map after the non-local block. ``forward`` scores single snippets;
    ``tsn_forward_pair`` averages over segments.

    The model takes over (does not copy) the two StreamNets, so stage-1 or pretrained stream
    checkpoints load into ``net.rgb`` / ``net.flow``. ``frozen`` names a branch that
    ``set_trainable`` froze; ``train()`` keeps that branch in eval mode.
    """

    def __init__(self, rgb: StreamNet, flow: StreamNet, nonlocal_rgb: bool = False):
        super().__init__()
        self.rgb, self.flow = rgb, flow
        self.points = insertion_points(rgb.backbone)
        if self.points != insertion_points(flow.backbone):
            raise ValueError("the two branches must have the same depth")
        channels = {p: _out_channels(getattr(rgb.backbone, p[0])[p[1]]) for p in self.points}
        self.rgb_cma = nn.ModuleDict({block_key(*p): CMABlock(c) for p, c in channels.items()})
        self.flow_cma = nn.ModuleDict({block_key(*p): CMABlock(c) for p, c in channels.items()})
        self.rgb_nonlocal = nn.ModuleDict({block_key(*p): NonLocalBlock(c) for p, c in channels.items() if nonlocal_rgb})
        self.frozen: str | None = None

    @classmethod
    def from_streams(cls, rgb: StreamNet, flow: StreamNet, nonlocal_rgb: bool = False) -> CMANet:
        """Build on pretrained or stage-1 streams, taking over their backbones and classifiers."""
        return cls(rgb, flow, nonlocal_rgb)

    def forward(self, rgb: torch.Tensor, flow: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Snippet scores (score_rgb, score_flow) for RGB (N, 3, H, W) and flow (N, 2L, H, W) inputs."""
        x, y = _stem(self.rgb.backbone, rgb), _stem(self.flow.backbone, flow)
        for (stage, i, block_x), (_, _, block_y) in zip(blocks(self.rgb.backbone), blocks(self.flow.backbone)):
            x, y = block_x(x), block_y(y)
            key = block_key(stage, i)
            if key in self.rgb_nonlocal:
                x = self.rgb_nonlocal[key](x)
            if key in self.rgb_cma:
                x, y = self.rgb_cma[key](x, y), self.flow_cma[key](y, x)
        return _head(self.rgb, x), _head(self.flow, y)

    def branch(self, name: str) -> list[nn.Module]:
        """The modules of one branch: its stream and the CMA / non-local blocks inside it."""
        other_branch(name)  # validates the name
        return [self.rgb, self.rgb_cma, self.rgb_nonlocal] if name == "rgb" else [self.flow, self.flow_cma]

    def train(self, mode: bool = True) -> CMANet:
        super().train(mode)
        if self.frozen is not None:
            for module in self.branch(self.frozen):
                module.eval()
        return self


def set_trainable(net: CMANet, branch: str) -> None:
    """Iterative training: train ``branch`` (stream + its blocks); freeze the other entirely.

    The frozen branch, its CMA blocks included, gets ``requires_grad=False`` and stays in eval
    mode, also across later ``net.train()`` calls, so its BatchNorm statistics do not move.
    """
    other = other_branch(branch)
    for name, trainable in ((branch, True), (other, False)):
        for module in net.branch(name):
            module.requires_grad_(trainable)
    net.frozen = other
    net.train(net.training)


def tsn_forward_pair(net: CMANet, rgb_clips: torch.Tensor, flow_clips: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Video scores from (B, K, C, H, W) clips: score every snippet, average each branch over the K segments."""
    k = rgb_clips.shape[1]
    s_rgb, s_flow = net(rgb_clips.flatten(0, 1), flow_clips.flatten(0, 1))
    return consensus(s_rgb, k), consensus(s_flow, k)


def build(config: dict[str, Any]) -> CMANet:
    """An untrained CMANet with the architecture a CMA checkpoint's config describes."""
    return CMANet.from_streams(build_stream(config["rgb"]), build_stream(config["flow"]),
                               nonlocal_rgb=config["nonlocal_rgb"])


def load(path: str | os.PathLike) -> tuple[CMANet, dict[str, Any]]:
    """A trained CMANet and its config."""
    ckpt = checkpoint.load(path)
    if ckpt["kind"] != "cma":
        raise ValueError(f"{path}: a {ckpt['kind']} checkpoint, expected a CMA model")
    return checkpoint.restore(ckpt, build), ckpt["config"]

