import pytest
import torch

from twostream.models.streams import (
    StreamNet,
    WeightsError,
    backbone,
    cross_modality_conv1,
    feature_dim,
    resnet,
    tsn_forward,
)


def test_resnet10_has_one_block_per_stage():
    net = resnet(10)
    assert [len(getattr(net, f"layer{i}")) for i in range(1, 5)] == [1, 1, 1, 1]
    assert feature_dim(net) == 512


def test_bottleneck_resnets_have_2048_features():
    assert feature_dim(resnet(50)) == 2048


def test_unsupported_depth_is_rejected():
    with pytest.raises(ValueError, match="unsupported ResNet depth"):
        resnet(20)


def test_cross_modality_conv1_replicates_the_channel_mean():
    weight = torch.randn(4, 3, 7, 7)
    flow = cross_modality_conv1(weight, 10)
    assert flow.shape == (4, 10, 7, 7)
    for c in range(10):
        torch.testing.assert_close(flow[:, c], weight.mean(dim=1))


@pytest.mark.parametrize("wrap", [False, True])
def test_flow_backbone_from_a_state_dict_file(tmp_path, wrap):
    source = resnet(10)
    state = source.state_dict()
    path = tmp_path / "rgb.pt"
    torch.save({"state_dict": state} if wrap else state, path)
    flow = backbone(10, 10, str(path))
    assert isinstance(flow.fc, torch.nn.Identity)
    torch.testing.assert_close(flow.conv1.weight, cross_modality_conv1(state["conv1.weight"], 10))
    torch.testing.assert_close(flow.layer3[0].conv1.weight, state["layer3.0.conv1.weight"])
    assert flow(torch.randn(2, 10, 40, 40)).shape == (2, 512)


def test_rgb_backbone_loads_weights_unchanged(tmp_path):
    state = resnet(10).state_dict()
    torch.save(state, tmp_path / "rgb.pt")
    rgb = backbone(10, 3, str(tmp_path / "rgb.pt"))
    torch.testing.assert_close(rgb.conv1.weight, state["conv1.weight"])


def test_weights_that_do_not_fit_are_rejected(tmp_path):
    torch.save(resnet(18).state_dict(), tmp_path / "r18.pt")
    with pytest.raises(WeightsError, match="do not fit"):
        backbone(10, 3, str(tmp_path / "r18.pt"))
    with pytest.raises(WeightsError, match="not found"):
        backbone(10, 3, str(tmp_path / "missing.pt"))


def test_imagenet_weights_are_never_downloaded(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(WeightsError, match="not in the cache"):
        backbone(18, 3, "imagenet")
    with pytest.raises(WeightsError, match="no ImageNet weights"):
        backbone(10, 3, "imagenet")


def test_stream_net_scores_and_tsn_consensus():
    net = StreamNet(10, 10, num_classes=5, dropout=0.5).eval()
    assert net.dim == 512
    clips = torch.randn(2, 3, 10, 40, 40)
    with torch.no_grad():
        scores = tsn_forward(net, clips)
        per_segment = torch.stack([net(clips[:, k]) for k in range(3)], dim=1)
    assert scores.shape == (2, 5)
    torch.testing.assert_close(scores, per_segment.mean(dim=1))
