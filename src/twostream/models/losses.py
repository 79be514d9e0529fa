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

    Inside each max the other stream's loss is detached, so the gradient of the total is
    w_a dL_a + w_m dL_m with w = 2 for the stream that lags (higher loss) and 1 for the leading one
    (on a tie, relu'(0) = 0 in PyTorch, so both get 1). Each loss keeps every path the network gives
    it: with message passing, L_a also trains ``lstm_m`` and the flow backbone through the message
    (and L_m the RGB backbone), so a stream is not pushed only by its own loss. Differentiating each
    AL only with respect to its own stream is the reading not taken (docs/cmmp.md says why).

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
