"""Conv fusion: built on the stage-1 streams, fused position by position, starting from the maps' mean."""

from __future__ import annotations

import pytest
import torch

from twostream.models.conv_fusion import ConvFusionNet, channels
from twostream.models.streams import StreamNet

CLASSES, LENGTH, CROP = 4, 2, 32


def streams() -> tuple[StreamNet, StreamNet]:
    torch.manual_seed(0)
    return StreamNet(10, 3, CLASSES, dropout=0.5), StreamNet(10, 2 * LENGTH, CLASSES, dropout=0.5)


def test_built_on_the_stage1_streams():
    rgb, flow = streams()
    net = ConvFusionNet(rgb, flow, "layer2")
    assert net.rgb_trunk[0] is rgb.backbone.conv1 and net.flow_trunk[-1] is flow.backbone.layer2
    assert net.tower[0] is flow.backbone.layer3 and net.fc is flow.fc
    assert net.fuse[0].in_channels == 2 * channels(flow, "layer2") == 256


def test_fusion_starts_as_the_mean_of_the_two_maps():
    net = ConvFusionNet(*streams(), "layer3").eval()
    a, b = torch.randn(2, 256, 3, 3), torch.randn(2, 256, 3, 3)
    conv = net.fuse[0](torch.cat([a, b], dim=1))
    torch.testing.assert_close(conv, (a + b) / 2)


def test_fusion_is_per_position():
    """A 1x1 fusion: changing the RGB map at one position changes the fused map only there."""
    net = ConvFusionNet(*streams(), "layer2").eval()
    a, b = torch.randn(1, 128, 4, 4), torch.randn(1, 128, 4, 4)
    changed = a.clone()
    changed[..., 1, 2] += 5
    with torch.no_grad():
        diff = (net.fuse(torch.cat([changed, b], 1)) - net.fuse(torch.cat([a, b], 1))).abs().sum(dim=1)[0]
    assert diff[1, 2] > 0 and diff.sum() == diff[1, 2]


def test_video_scores_average_the_segments():
    net = ConvFusionNet(*streams(), "layer2").eval()
    rgb, flow = torch.randn(2, 3, 3, CROP, CROP), torch.randn(2, 3, 2 * LENGTH, CROP, CROP)
    with torch.no_grad():
        scores = net(rgb, flow)
        first = net.snippet_scores(rgb[:, 0], flow[:, 0])
        mean = torch.stack([net.snippet_scores(rgb[:, t], flow[:, t]) for t in range(3)]).mean(dim=0)
    assert scores.shape == (2, CLASSES) and not torch.allclose(scores, first)
    torch.testing.assert_close(scores, mean)


def test_rejects_an_unknown_stage():
    with pytest.raises(ValueError, match="unknown fusion stage"):
        ConvFusionNet(*streams(), "layer5")
