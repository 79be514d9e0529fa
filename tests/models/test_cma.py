import copy
import math

import pytest
import torch
import torch.nn.functional as F

from twostream.eval.cma_tables import count_parameters
from twostream.models.cma import (
    CMABlock,
    CMANet,
    NonLocalBlock,
    insertion_points,
    other_branch,
    set_trainable,
    tsn_forward_pair,
)
from twostream.models.losses import cross_entropy
from twostream.models.streams import StreamNet

CLASSES, SIZE = 5, 40
SHAPES = {2: [(2, 8, 5, 5), (2, 8, 6, 4), (2, 8, 1, 1)], 3: [(2, 8, 3, 5, 7), (1, 8, 2, 4, 4)]}
CASES = [(dim, shape) for dim, shapes in SHAPES.items() for shape in shapes]


def pooled(size: int) -> int:
    return math.ceil(size / 2)


def perturb(block: CMABlock) -> CMABlock:
    """Give the output BN a non-zero scale so the attention path contributes."""
    torch.nn.init.normal_(block.bn.weight)
    torch.nn.init.normal_(block.bn.bias)
    return block


def tiny_net(nonlocal_rgb: bool = False, dropout: float = 0.5) -> CMANet:
    torch.manual_seed(0)
    rgb, flow = StreamNet(10, 3, CLASSES, dropout=dropout), StreamNet(10, 10, CLASSES, dropout=dropout)
    return CMANet.from_streams(rgb, flow, nonlocal_rgb=nonlocal_rgb)


def snippets(n: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.randn(n, 3, SIZE, SIZE), torch.randn(n, 10, SIZE, SIZE)


@pytest.mark.parametrize("dim, shape", CASES)
def test_block_is_exactly_the_identity_at_initialisation(dim, shape):
    block = CMABlock(shape[1], dim)
    x, y = torch.randn(shape), torch.randn(shape)
    for mode in (True, False):
        assert torch.equal(block.train(mode)(x, y), x)


@pytest.mark.parametrize("dim, shape", CASES)
def test_block_shapes_and_attention(dim, shape):
    block = perturb(CMABlock(shape[1], dim, keep_attention=True))
    x, y = torch.randn(shape), torch.randn(shape)
    out = block(x, y)
    assert out.shape == x.shape and not torch.equal(out, x)
    key_shape = (*shape[2:-2], pooled(shape[-2]), pooled(shape[-1]))  # space pooled, time kept
    assert block.query_shape == shape[2:] and block.key_shape == key_shape
    assert block.attention.shape == (shape[0], math.prod(shape[2:]), math.prod(key_shape))
    torch.testing.assert_close(block.attention.sum(-1), torch.ones(block.attention.shape[:2]))


def test_block_attends_over_other_branch_keys():
    block = perturb(CMABlock(8)).eval()
    x, y = torch.randn(2, 8, 5, 5), torch.randn(2, 8, 6, 4)
    y_pooled = F.max_pool2d(y, 2, 2, ceil_mode=True)
    q = block.query(x).flatten(2).transpose(1, 2)
    k = block.key(y_pooled).flatten(2).transpose(1, 2)
    v = block.value(y_pooled).flatten(2).transpose(1, 2)
    z = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(2, 4, 5, 5)
    with torch.no_grad():
        torch.testing.assert_close(block(x, y), x + block.bn(block.out(z)))


def test_key_indices_map_back_to_positions():
    block = CMABlock(4, keep_attention=True)
    x, y = torch.zeros(1, 4, 5, 5), torch.zeros(1, 4, 5, 5)
    y[0, :, 4, 2] = 50.0  # lands in pooled cell (2, 1) of the 3x3 key grid
    with torch.no_grad():
        block.key.weight.copy_(torch.eye(2, 4).view(2, 4, 1, 1))
        block.query.bias.fill_(1.0)
        block(x, y)
    j = block.attention[0, 0].argmax().item()
    assert block.key_shape == (3, 3) and divmod(j, block.key_shape[1]) == (2, 1)


@pytest.mark.parametrize("dim, shape", [CASES[0], CASES[-2]])
def test_non_local_is_cma_with_both_inputs_the_same(dim, shape):
    cma = perturb(CMABlock(shape[1], dim))
    non_local = NonLocalBlock(shape[1], dim)
    non_local.load_state_dict(cma.state_dict())
    x = torch.randn(shape)
    torch.testing.assert_close(non_local(x), cma(x, x), rtol=0, atol=0)


def test_resnet50_has_five_blocks_per_branch_and_about_1_8x_parameters():
    net = CMANet(StreamNet(50, 3, 400, dropout=0.5), StreamNet(50, 10, 400, dropout=0.5))
    for blocks in (net.rgb_cma, net.flow_cma):
        assert list(blocks) == ["layer2_1", "layer2_3", "layer3_1", "layer3_3", "layer3_5"]
        assert [b.out.out_channels for b in blocks.values()] == [512, 512, 1024, 1024, 1024]
    plain = sum(p.numel() for p in net.rgb.parameters())  # the RGB branch is a plain StreamNet
    assert 1.5 < count_parameters(net, "rgb") / plain < 2.0  # the paper reports 1.8x


@pytest.mark.parametrize("depth, points", [(10, [("layer2", 0), ("layer3", 0)]), (18, [("layer2", 1), ("layer3", 1)])])
def test_shallow_resnets_get_one_block_per_stage_after_the_last(depth, points):
    assert insertion_points(StreamNet(depth, 3, CLASSES, dropout=0.5).backbone) == points


def test_cmanet_at_initialisation_equals_the_separate_streams():
    net = tiny_net(nonlocal_rgb=True).eval()
    assert list(net.rgb_nonlocal) == list(net.rgb_cma) == ["layer2_0", "layer3_0"]
    rgb, flow = snippets()
    with torch.no_grad():
        s_rgb, s_flow = net(rgb, flow)
        assert torch.equal(s_rgb, net.rgb(rgb)) and torch.equal(s_flow, net.flow(flow))
    assert s_rgb.shape == s_flow.shape == (2, CLASSES)


def test_both_blocks_read_the_other_branch_before_its_cma_block():
    net = tiny_net(nonlocal_rgb=True).eval()
    for block in [*net.rgb_cma.values(), *net.flow_cma.values(), *net.rgb_nonlocal.values()]:
        perturb(block)
    calls = {}
    for block in [*net.rgb_cma.values(), *net.flow_cma.values()]:
        block.register_forward_hook(lambda m, args, out: calls.setdefault(m, []).append((*args, out)))
    nonlocal_out = {}
    for name, block in net.rgb_nonlocal.items():
        block.register_forward_hook(lambda m, args, out, name=name: nonlocal_out.__setitem__(name, out))
    with torch.no_grad():
        net(*snippets())
    for name in net.rgb_cma:
        (x, y, x_out), = calls[net.rgb_cma[name]]
        (y_in, x_in, y_out), = calls[net.flow_cma[name]]
        assert torch.equal(x_in, x) and torch.equal(y_in, y)  # pre-CMA maps, not x_out / y_out
        assert torch.equal(x, nonlocal_out[name])  # the RGB map after its non-local block
        assert not torch.equal(x_out, x) and not torch.equal(y_out, y)


def test_tsn_forward_pair_averages_segments():
    net = tiny_net().eval()
    rgb, flow = torch.randn(2, 3, 3, SIZE, SIZE), torch.randn(2, 3, 10, SIZE, SIZE)
    with torch.no_grad():
        s_rgb, s_flow = tsn_forward_pair(net, rgb, flow)
        segments = [net(rgb[:, k], flow[:, k]) for k in range(3)]
    torch.testing.assert_close(s_rgb, sum(s for s, _ in segments) / 3)
    torch.testing.assert_close(s_flow, sum(s for _, s in segments) / 3)


def rgb_loss_backward(net: CMANet) -> None:
    s_rgb, _ = net(*snippets())
    cross_entropy(s_rgb, torch.tensor([0, 1])).backward()


def test_rgb_loss_reaches_the_flow_branch_only_through_cma_blocks():
    net = tiny_net(dropout=0.0)
    for block in [*net.rgb_cma.values(), *net.flow_cma.values()]:
        perturb(block)
    rgb_loss_backward(net)
    flow = net.flow.backbone
    assert flow.conv1.weight.grad.abs().sum() > 0
    assert flow.layer3[0].conv1.weight.grad.abs().sum() > 0
    assert net.flow_cma["layer2_0"].query.weight.grad.abs().sum() > 0  # feeds RGB's layer3 block
    # After the last CMA point the flow branch only feeds the flow output.
    after_last = [*flow.layer4.parameters(), *net.flow.fc.parameters(), *net.flow_cma["layer3_0"].parameters()]
    assert all(p.grad is None for p in after_last)

    # With the RGB branch's CMA blocks back at the identity the path is cut (scale 0 gives zero gradient).
    net.zero_grad()
    for block in net.rgb_cma.values():
        torch.nn.init.zeros_(block.bn.weight)
    rgb_loss_backward(net)
    assert all(p.grad is None or not p.grad.any() for p in [*net.flow.parameters(), *net.flow_cma.parameters()])


def test_frozen_branch_gets_no_gradient():
    net = tiny_net(dropout=0.0)
    for block in net.rgb_cma.values():
        perturb(block)
    set_trainable(net, "rgb")
    rgb_loss_backward(net)
    assert all(p.grad is None for p in [*net.flow.parameters(), *net.flow_cma.parameters()])
    assert net.rgb.backbone.conv1.weight.grad.abs().sum() > 0


def branch_state(net: CMANet, prefixes: tuple[str, ...]) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in net.state_dict().items() if k.startswith(prefixes)}


@pytest.mark.parametrize("train, frozen", [("rgb", ("flow.", "flow_cma.")), ("flow", ("rgb.", "rgb_cma.", "rgb_nonlocal."))])
def test_sgd_step_leaves_the_frozen_branch_untouched(train, frozen):
    net = tiny_net(nonlocal_rgb=True)
    trained = tuple(p for p in ("rgb.", "rgb_cma.", "rgb_nonlocal.", "flow.", "flow_cma.") if p not in frozen)
    set_trainable(net, train)
    net.train()
    assert not any(m.training for module in net.branch(other_branch(train)) for m in module.modules())
    before_frozen, before_trained = branch_state(net, frozen), branch_state(net, trained)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    for _ in range(2):
        optimizer.zero_grad()
        s_rgb, s_flow = net(*snippets())
        cross_entropy(s_rgb if train == "rgb" else s_flow, torch.tensor([0, 1])).backward()
        optimizer.step()
    after_frozen, after_trained = branch_state(net, frozen), branch_state(net, trained)
    assert all(torch.equal(before_frozen[k], after_frozen[k]) for k in before_frozen)
    stream = train + "."
    for key in (f"{stream}backbone.conv1.weight", f"{stream}backbone.bn1.running_mean", f"{stream}fc.weight"):
        assert not torch.equal(before_trained[key], after_trained[key])
    assert not torch.equal(before_trained[f"{train}_cma.layer3_0.bn.weight"], after_trained[f"{train}_cma.layer3_0.bn.weight"])


def test_switching_branches_unfreezes_the_previous_one():
    net = tiny_net(nonlocal_rgb=True)
    set_trainable(net, "rgb")
    set_trainable(net, "flow")
    net.eval().train()
    for name, trainable in (("flow", True), ("rgb", False)):
        modules = net.branch(name)
        assert all(p.requires_grad == trainable for module in modules for p in module.parameters())
        assert all(m.training == trainable for module in modules for m in module.modules())


def reachable_parameters(net: CMANet, output: str) -> int:
    """Parameters the output is connected to in the autograd graph (zero gradients count)."""
    net = copy.deepcopy(net).requires_grad_(True)
    params = list(net.parameters())
    s_rgb, s_flow = net(*snippets(1))
    grads = torch.autograd.grad((s_rgb if output == "rgb" else s_flow).sum(), params, allow_unused=True)
    return sum(p.numel() for p, g in zip(params, grads) if g is not None)


@pytest.mark.parametrize("nonlocal_rgb", [False, True])
@pytest.mark.parametrize("output", ["rgb", "flow"])
def test_count_parameters_matches_the_autograd_graph(output, nonlocal_rgb):
    net = tiny_net(nonlocal_rgb=nonlocal_rgb).eval()
    count = count_parameters(net, output)
    assert count == reachable_parameters(net, output)
    assert count < sum(p.numel() for p in net.parameters())


def test_unknown_branch_is_rejected():
    net = tiny_net()
    for call in (net.branch, lambda name: set_trainable(net, name), lambda name: count_parameters(net, name)):
        with pytest.raises(ValueError, match="unknown branch"):
            call("depth")
