import pytest
import torch

from twostream.eval.metrics import fuse
from twostream.models.cmmp import CMMPNet
from twostream.models.losses import cross_entropy
from twostream.models.streams import StreamNet, tsn_forward

B, T, CLASSES, SIZE = 2, 3, 5, 40


def streams(dropout: float = 0.5) -> tuple[StreamNet, StreamNet]:
    return StreamNet(10, 3, CLASSES, dropout=dropout), StreamNet(10, 10, CLASSES, dropout=dropout)


def clips() -> tuple[torch.Tensor, torch.Tensor]:
    return torch.randn(B, T, 3, SIZE, SIZE), torch.randn(B, T, 10, SIZE, SIZE)


def record(module: torch.nn.Module, store: list, what: str) -> None:
    """Append a module's input (``what="in"``) or output to ``store`` on every call."""
    module.register_forward_hook(lambda m, args, out: store.append(args[0] if what == "in" else out))


def fused_inputs(fusion: str):
    """Backbone features (B, T, D) and the features both classifiers saw, in eval mode."""
    torch.manual_seed(0)
    net = CMMPNet.from_streams(*streams(), fusion=fusion).eval()
    x_a, x_m, f_a, f_m = [], [], [], []
    record(net.rgb.backbone, x_a, "out")
    record(net.flow.backbone, x_m, "out")
    record(net.rgb.fc, f_a, "in")
    record(net.flow.fc, f_m, "in")
    with torch.no_grad():
        net(*clips())
    return net, x_a[0].view(B, T, -1), x_m[0].view(B, T, -1), f_a[0], f_m[0]


@pytest.mark.parametrize("fusion", ["cmmp", "sum", "max", "none"])
def test_shapes(fusion):
    s_a, s_m = CMMPNet.from_streams(*streams(), fusion=fusion)(*clips())
    assert s_a.shape == s_m.shape == (B, CLASSES)


def test_from_streams_takes_over_backbones_and_classifiers():
    rgb, flow = streams()
    net = CMMPNet.from_streams(rgb, flow)
    assert net.rgb.backbone is rgb.backbone and net.rgb.fc is rgb.fc and net.rgb.dropout is rgb.dropout
    assert net.flow.backbone is flow.backbone and net.flow.fc is flow.fc


def test_cmmp_fuses_features_with_the_other_stream_message():
    net, x_a, x_m, f_a, f_m = fused_inputs("cmmp")
    with torch.no_grad():
        m_a, m_m = net.message_a(x_a)[0], net.message_m(x_m)[0]
    assert m_a.shape == m_m.shape == (B, T, 512)
    torch.testing.assert_close(f_a, (x_a + m_m) / 2)
    torch.testing.assert_close(f_m, (x_m + m_a) / 2)


@pytest.mark.parametrize("fusion, combine", [("sum", torch.add), ("max", torch.maximum)])
def test_sum_and_max_classifiers_see_identical_features(fusion, combine):
    _, x_a, x_m, f_a, f_m = fused_inputs(fusion)
    assert torch.equal(f_a, f_m)
    torch.testing.assert_close(f_a, combine(x_a, x_m))


def test_none_is_the_two_stream_baseline():
    torch.manual_seed(0)
    rgb, flow = streams()
    net = CMMPNet.from_streams(rgb, flow, fusion="none").eval()
    assert not any(isinstance(m, torch.nn.LSTM) for m in net.modules())
    rgb_clips, flow_clips = clips()
    with torch.no_grad():
        s_a, s_m = net(rgb_clips, flow_clips)
        torch.testing.assert_close(s_a, tsn_forward(rgb, rgb_clips))
        torch.testing.assert_close(s_m, tsn_forward(flow, flow_clips))


def rgb_loss_grads(fusion: str) -> CMMPNet:
    torch.manual_seed(0)
    net = CMMPNet.from_streams(*streams(dropout=0.0), fusion=fusion)
    s_a, _ = net(*clips())
    cross_entropy(s_a, torch.tensor([0, 1])).backward()
    return net


def test_message_path_carries_the_rgb_loss_into_the_flow_backbone():
    net = rgb_loss_grads("cmmp")
    assert net.flow.backbone.conv1.weight.grad.abs().sum() > 0
    assert net.rgb.backbone.conv1.weight.grad.abs().sum() > 0
    assert all(p.grad.abs().sum() > 0 for p in net.message_m.parameters())
    assert all(p.grad is None for p in net.message_a.parameters())  # m_a only feeds the flow stream
    assert all(p.grad is None for p in net.flow.fc.parameters())


def test_without_fusion_the_rgb_loss_stays_in_the_rgb_stream():
    net = rgb_loss_grads("none")
    assert net.rgb.backbone.conv1.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in net.flow.parameters())


def test_unknown_fusion_is_rejected():
    with pytest.raises(ValueError, match="unknown fusion"):
        CMMPNet(*streams(), fusion="concat")


def test_fuse_weights_each_stream():
    s_a, s_m = torch.tensor([[1.0, 2.0]]), torch.tensor([[4.0, 0.0]])
    assert torch.equal(fuse(s_a, s_m, (1.0, 1.0)), torch.tensor([[5.0, 2.0]]))
    assert torch.equal(fuse(s_a, s_m, (1.0, 1.5)), torch.tensor([[7.0, 2.0]]))


def test_messages_run_in_fp32_inside_autocast():
    """The LSTMs compute in fp32 (inputs, outputs, gradients) while the backbones run in bf16 under autocast."""
    torch.manual_seed(0)
    net = CMMPNet.from_streams(*streams(), fusion="cmmp")
    lstm_in, lstm_out, backbone_out = [], [], []
    record(net.message_a, lstm_in, "in")
    record(net.message_a, lstm_out, "out")
    record(net.rgb.backbone, backbone_out, "out")
    with torch.autocast("cpu", dtype=torch.bfloat16):
        s_a, s_m = net(*clips())
    assert backbone_out[0].dtype == torch.bfloat16  # autocast is on around them
    assert lstm_in[0].dtype == lstm_out[0][0].dtype == torch.float32
    (s_a.float().sum() + s_m.float().sum()).backward()
    assert all(p.grad.dtype == torch.float32 for p in net.message_a.parameters())
