"""Cross-modal message passing (CMMP, Wang et al., ICASSP 2018, Sec. 3.2) and its SUM/MAX baselines."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn as nn

from .checkpoint import build_stream
from .streams import StreamNet, consensus

FUSIONS = ("cmmp", "sum", "max", "none")


@dataclass(frozen=True)
class Variant:
    name: str  # as in the paper's Table 1
    fusion: str  # CMMPNet fusion
    adversarial: bool  # AL (Eq. 4-5) or plain cross-entropy L_a + L_m


# Keyed by the slug used in file names and in the config (cmmp.variants); in Table 1's row order.
VARIANTS = {
    "sum": Variant("SUM", "sum", False),
    "max": Variant("MAX", "max", False),
    "cmmp-noal": Variant("CMMP+noAL", "cmmp", False),
    "sum-al": Variant("SUM+AL", "sum", True),
    "max-al": Variant("MAX+AL", "max", True),
    "cmmp": Variant("CMMP", "cmmp", True),
}


class CMMPNet(nn.Module):
    """Two streams whose per-segment features are fused before each stream's classifier.

    Input: RGB clips (B, T, 3, H, W) and flow clips (B, T, 2L, H, W), T segments each.
    ``x_a``, ``x_m`` (B, T, D) are the pooled backbone features of every segment. ``fusion``:

    - ``cmmp``: two 2-layer LSTM message generators with their own weights and hidden size D,
      ``m_a = lstm_a(x_a)``, ``m_m = lstm_m(x_m)``; ``x_a^f = (x_a + m_m) / 2``, ``x_m^f = (x_m + m_a) / 2``.
    - ``sum``: ``x_a^f = x_m^f = x_a + x_m``;  ``max``: ``x_a^f = x_m^f = max(x_a, x_m)``.
    - ``none``: ``x^f = x`` (stage 1, the two-stream baseline).

    Each stream's own dropout + fc turns its fused features into per-segment scores, which are
    averaged over the T segments (TSN consensus). The LSTMs exist only for ``cmmp``.

    Initialisation: the model takes over (does not copy) the two StreamNets, backbones *and*
    dropout + fc; with stage-1 streams the classifiers start from their stage-1 weights, which
    were trained on unfused features, and only the LSTMs start from scratch (PyTorch default).
    """

    def __init__(self, rgb: StreamNet, flow: StreamNet, fusion: str = "cmmp"):
        super().__init__()
        if fusion not in FUSIONS:
            raise ValueError(f"unknown fusion {fusion!r}; choose from {FUSIONS}")
        if rgb.dim != flow.dim or rgb.fc.out_features != flow.fc.out_features:
            raise ValueError("the two streams must have the same feature size and number of classes")
        self.rgb, self.flow, self.fusion = rgb, flow, fusion
        if fusion == "cmmp":
            self.message_a = nn.LSTM(rgb.dim, rgb.dim, num_layers=2, batch_first=True)
            self.message_m = nn.LSTM(flow.dim, flow.dim, num_layers=2, batch_first=True)

    @classmethod
    def from_streams(cls, rgb: StreamNet, flow: StreamNet, fusion: str = "cmmp") -> CMMPNet:
        """Stage 2: build on the stage-1 streams, taking over their backbones and classifiers."""
        return cls(rgb, flow, fusion)

    def fuse(self, x_a: torch.Tensor, x_m: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Fused features (x_a^f, x_m^f), each (B, T, D)."""
        if self.fusion == "cmmp":
            m_a, _ = self.message_a(x_a)
            m_m, _ = self.message_m(x_m)
            return (x_a + m_m) / 2, (x_m + m_a) / 2
        if self.fusion == "sum":
            fused = x_a + x_m
            return fused, fused
        if self.fusion == "max":
            fused = torch.maximum(x_a, x_m)
            return fused, fused
        return x_a, x_m

    def forward(self, rgb_clips: torch.Tensor, flow_clips: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Video scores (s_a, s_m), each (B, num_classes)."""
        b, t = rgb_clips.shape[:2]
        x_a = self.rgb.features(rgb_clips.flatten(0, 1)).view(b, t, -1)
        x_m = self.flow.features(flow_clips.flatten(0, 1)).view(b, t, -1)
        f_a, f_m = self.fuse(x_a, x_m)
        return consensus(self.rgb.fc(self.rgb.dropout(f_a)), t), consensus(self.flow.fc(self.flow.dropout(f_m)), t)


def build(config: dict[str, Any]) -> CMMPNet:
    """An untrained CMMPNet of a stage-2 checkpoint config."""
    return CMMPNet(build_stream(config["rgb"]), build_stream(config["flow"]), config["fusion"])

