"""Convolutional two-stream fusion (Feichtenhofer, Pinz & Zisserman, CVPR 2016; CMMP Table 2's "Fusion [11]").

Both streams run up to a chosen ResNet stage; their feature maps, which cover the same crop at
the same resolution, are stacked channel-wise at each spatial position and fused by a 1x1
convolution + BatchNorm + ReLU back to one stream's width. The flow stream's remaining stages,
pooling, dropout and classifier turn the fused map into per-snippet scores, averaged over the
segments (TSN consensus). So a unit of the fused map sees colour and motion *at the same place*,
which late score fusion cannot.

Initialisation (the paper's): both trunks and the flow tower from the stage-1 streams; the 1x1
convolution as [I, I] / 2 (the mean of the two maps), so training starts from the flow stream
with the RGB map added in.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn

from .checkpoint import build_stream
from .streams import StreamNet, consensus

STAGES = ("layer1", "layer2", "layer3", "layer4")
FUSED = "fused"  # the one output of a conv-fusion score file


def _stem(net: StreamNet) -> list[nn.Module]:
    b = net.backbone
    return [b.conv1, b.bn1, b.relu, b.maxpool]


def channels(net: StreamNet, stage: str) -> int:
    """Channels of ``stage``'s output (its last block's last BatchNorm)."""
    last = getattr(net.backbone, stage)[-1]
    return (last.bn3 if hasattr(last, "bn3") else last.bn2).num_features


class ConvFusionNet(nn.Module):
    """RGB and flow trunks to ``stage``, 1x1 conv fusion, then the flow stream's later stages and classifier.

    Input: RGB clips (B, T, 3, H, W) and flow clips (B, T, 2L, H, W); output: video scores (B, classes).
    """

    def __init__(self, rgb: StreamNet, flow: StreamNet, stage: str):
        super().__init__()
        if stage not in STAGES:
            raise ValueError(f"unknown fusion stage {stage!r}; choose from {STAGES}")
        if channels(rgb, stage) != channels(flow, stage):
            raise ValueError("the two streams must have the same width at the fusion stage")
        cut = STAGES.index(stage) + 1
        self.stage = stage
        self.rgb_trunk = nn.Sequential(*_stem(rgb), *(getattr(rgb.backbone, s) for s in STAGES[:cut]))
        self.flow_trunk = nn.Sequential(*_stem(flow), *(getattr(flow.backbone, s) for s in STAGES[:cut]))
        width = channels(flow, stage)
        self.fuse = nn.Sequential(nn.Conv2d(2 * width, width, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True))
        with torch.no_grad():
            eye = torch.eye(width)[:, :, None, None] / 2
            self.fuse[0].weight.copy_(torch.cat([eye, eye], dim=1))
        self.tower = nn.Sequential(*(getattr(flow.backbone, s) for s in STAGES[cut:]), flow.backbone.avgpool,
                                   nn.Flatten(1))
        self.dropout, self.fc = flow.dropout, flow.fc

    def snippet_scores(self, rgb: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
        """Scores (N, classes) of N aligned snippets: RGB (N, 3, H, W), flow (N, 2L, H, W)."""
        fused = self.fuse(torch.cat([self.rgb_trunk(rgb), self.flow_trunk(flow)], dim=1))
        return self.fc(self.dropout(self.tower(fused)))

    def forward(self, rgb_clips: torch.Tensor, flow_clips: torch.Tensor) -> torch.Tensor:
        return consensus(self.snippet_scores(rgb_clips.flatten(0, 1), flow_clips.flatten(0, 1)), rgb_clips.shape[1])


def build(config: dict[str, Any]) -> ConvFusionNet:
    """An untrained ConvFusionNet of a conv-fusion checkpoint config."""
    return ConvFusionNet(build_stream(config["rgb"]), build_stream(config["flow"]), config["stage"])
