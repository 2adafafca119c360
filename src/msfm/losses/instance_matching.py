"""Instance scale: image-text matching with hard negatives."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["InstanceMatchingLoss"]


class InstanceMatchingLoss(nn.Module):
    """Image-text matching (ITM) with in-batch hard negatives.

    The network scores the B matching pairs and, per image and per report, one hard negative drawn by
    :class:`msfm.networks.HardNegativeSampler`. With the match head's logit ``f(v, t)``, ``y = 1`` for matching
    pairs and ``0`` otherwise, and weight ``w = 0`` on the negative of a row that has no admissible one:

    ``Li = Σ w · BCE(f(v, t), y) / Σ w`` over the ``B + 2B`` pairs
    ``{(v_i, t_i)} ∪ {(v_i, t_n(i))} ∪ {(v_m(j), t_j)}``.
    """

    def forward(self, logits: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """
        Args:
            logits: ``[3B]`` match logits.
            targets: ``[3B]`` 1 for matching pairs, 0 for negatives.
            weights: ``[3B]`` pair weights.

        Returns:
            the scalar weighted BCE.
        """
        losses = F.binary_cross_entropy_with_logits(logits.float(), targets.float(), reduction="none")
        weights = weights.float()
        return (losses * weights).sum() / weights.sum()
