"""Losses for two-stream training: per-stream cross-entropy and the CMMP adversarial objective (Eq. 3-5)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Categorical cross-entropy (Eq. 3) averaged over the batch."""
    return F.cross_entropy(logits, target)


def plain_loss(
    logits_a: torch.Tensor, logits_m: torch.Tensor, target: torch.Tensor
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """L_a + L_m: the objective of SUM, MAX and CMMP+noAL; ``parts`` holds detached terms for logging."""
    loss_a, loss_m = cross_entropy(logits_a, target), cross_entropy(logits_m, target)
    return loss_a + loss_m, {"loss_a": loss_a.detach(), "loss_m": loss_m.detach()}


def adversarial_loss(
    logits_a: torch.Tensor, logits_m: torch.Tensor, target: torch.Tensor, per_sample: bool = True
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """AL_a + AL_m with AL_a = L_a + max(L_a - L_m, 0) and AL_m = L_m + max(L_m - L_a, 0) (Eq. 4-5).

    Inside each max the other stream's loss is detached, so each stream is pushed only by its own
    loss: the stream that lags behind gets twice the gradient, the leading one the plain gradient
    (on a tie, max'(0) = 0 in PyTorch, so both get the plain gradient).

    ``per_sample=True`` compares the two losses sample by sample (Eq. 3-5 are written for one
    video) and averages AL over the batch; ``per_sample=False`` compares the batch-mean losses.
    """
    reduction = "none" if per_sample else "mean"
    loss_a = F.cross_entropy(logits_a, target, reduction=reduction)
    loss_m = F.cross_entropy(logits_m, target, reduction=reduction)
    al_a = loss_a + torch.relu(loss_a - loss_m.detach())
    al_m = loss_m + torch.relu(loss_m - loss_a.detach())
    total = (al_a + al_m).mean()
    parts = {"loss_a": loss_a, "loss_m": loss_m, "al_a": al_a, "al_m": al_m}
    return total, {k: v.detach().mean() for k, v in parts.items()}
