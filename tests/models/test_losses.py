import math

import pytest
import torch

from twostream.models.losses import adversarial_loss, cross_entropy, plain_loss

# Two classes, target 0. Uniform logits give L = log 2; logits (log 3, 0) give p = (3/4, 1/4), L = log 4/3.
UNIFORM = [0.0, 0.0]
CONFIDENT = [math.log(3.0), 0.0]
L_UNIFORM, L_CONFIDENT = math.log(2.0), math.log(4.0 / 3.0)
# d L / d logits = p - onehot(target)
G_UNIFORM, G_CONFIDENT = torch.tensor([-0.5, 0.5]), torch.tensor([-0.25, 0.25])


def logits(*rows: list[float]) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float64, requires_grad=True)


def test_cross_entropy_matches_eq3():
    assert cross_entropy(logits(UNIFORM, CONFIDENT), torch.tensor([0, 0])).item() == pytest.approx(
        (L_UNIFORM + L_CONFIDENT) / 2
    )


def test_adversarial_loss_doubles_the_lagging_stream_gradient():
    a, m = logits(UNIFORM), logits(CONFIDENT)  # the appearance stream lags: L_a > L_m
    total, parts = adversarial_loss(a, m, torch.tensor([0]))
    # AL_a = 2 L_a - L_m = log 3, AL_m = L_m = log 4/3, total = log 4
    assert total.item() == pytest.approx(math.log(4.0))
    assert parts["al_a"].item() == pytest.approx(math.log(3.0))
    assert parts["al_m"].item() == pytest.approx(L_CONFIDENT)
    assert parts["loss_a"].item() == pytest.approx(L_UNIFORM)
    assert parts["loss_m"].item() == pytest.approx(L_CONFIDENT)
    grad_a, grad_m = torch.autograd.grad(total, (a, m))
    # The detached L_m inside max(.) leaves the leading stream with its plain gradient.
    torch.testing.assert_close(grad_a[0], 2 * G_UNIFORM.double())
    torch.testing.assert_close(grad_m[0], G_CONFIDENT.double())


def test_adversarial_loss_compares_each_sample():
    a, m = logits(UNIFORM, CONFIDENT), logits(CONFIDENT, UNIFORM)
    total, _ = adversarial_loss(a, m, torch.tensor([0, 0]))
    assert total.item() == pytest.approx(math.log(4.0))  # log 4 per sample, averaged
    grad_a, grad_m = torch.autograd.grad(total, (a, m))
    # Sample 0: a lags; sample 1: m lags. Batch mean divides by 2.
    torch.testing.assert_close(grad_a, torch.stack([G_UNIFORM, G_CONFIDENT / 2]).double())
    torch.testing.assert_close(grad_m, torch.stack([G_CONFIDENT / 2, G_UNIFORM]).double())


def test_adversarial_loss_on_batch_means_ties_here():
    a, m = logits(UNIFORM, CONFIDENT), logits(CONFIDENT, UNIFORM)
    total, parts = adversarial_loss(a, m, torch.tensor([0, 0]), per_sample=False)
    # Both batch losses equal (log 2 + log 4/3) / 2: the max terms vanish, with zero gradient.
    assert total.item() == pytest.approx(L_UNIFORM + L_CONFIDENT)
    assert parts["al_a"].item() == pytest.approx(parts["loss_a"].item())
    grad_a, grad_m = torch.autograd.grad(total, (a, m))
    torch.testing.assert_close(grad_a, torch.stack([G_UNIFORM, G_CONFIDENT]).double() / 2)
    torch.testing.assert_close(grad_m, torch.stack([G_CONFIDENT, G_UNIFORM]).double() / 2)


def test_plain_loss_is_the_sum_of_both_streams():
    a, m = logits(UNIFORM), logits(CONFIDENT)
    total, parts = plain_loss(a, m, torch.tensor([0]))
    assert total.item() == pytest.approx(L_UNIFORM + L_CONFIDENT)
    assert set(parts) == {"loss_a", "loss_m"}
    grad_a, grad_m = torch.autograd.grad(total, (a, m))
    torch.testing.assert_close(grad_a[0], G_UNIFORM.double())
    torch.testing.assert_close(grad_m[0], G_CONFIDENT.double())
