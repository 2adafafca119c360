"""Modality scale: masked image modelling (MAE) plus masked language modelling (MLM)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["ModalityReconstructionLoss"]


class ModalityReconstructionLoss(nn.Module):
    """``Lm = Lmse + Lmlm``.

    ``Lmse = Σ_r m_r·mean_p (x̂_rp − (x_rp − μ_r)/sqrt(σ²_r + ε))² / Σ_r m_r`` over the masked patches
    (``m_r = 1``) only, against pixels normalised per patch (mean ``μ_r``, variance ``σ²_r``), as in MAE.

    ``Lmlm = Σ_l CE(logits_l, y_l) / #{l : y_l ≠ ignore}`` over the masked tokens only; every other position,
    padding included, carries the ignore label.

    Args:
        ignore_index: label of positions without an MLM target.
        eps: ε of the per-patch normalisation.
    """

    def __init__(self, ignore_index: int = -100, eps: float = 1e-6) -> None:
        super().__init__()
        self.ignore_index = ignore_index
        self.eps = eps

    def masked_image_loss(self, pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """
        Args:
            pred: ``[B, R, P]`` predicted patch pixels.
            target: ``[B, R, P]`` raw patch pixels.
            mask: ``[B, R]``, 1 for masked (hidden) patches.
        """
        mean = target.mean(dim=-1, keepdim=True)
        var = target.var(dim=-1, keepdim=True, unbiased=False)
        normalised = (target - mean) / (var + self.eps).sqrt()
        per_patch = (pred - normalised).pow(2).mean(dim=-1)
        mask = mask.to(per_patch)
        return (per_patch * mask).sum() / mask.sum().clamp_min(1.0)

    def masked_language_loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """
        Args:
            logits: ``[..., V]`` token logits: ``[B, L, V]`` for every position, or ``[N, V]`` for the masked
                ones only (what :meth:`msfm.networks.MSFMTextEncoder.forward_masked` returns).
            labels: ``[...]`` original ids at masked positions, ``ignore_index`` elsewhere.
        """
        logits, labels = logits.reshape(-1, logits.shape[-1]), labels.reshape(-1)
        total = F.cross_entropy(logits, labels, ignore_index=self.ignore_index, reduction="sum")
        return total / (labels != self.ignore_index).sum().clamp_min(1)

    def forward(
        self,
        mae_pred: torch.Tensor,
        mae_target: torch.Tensor,
        mae_mask: torch.Tensor,
        mlm_logits: torch.Tensor,
        mlm_labels: torch.Tensor,
    ) -> torch.Tensor:
        """Return ``Lmse + Lmlm`` (see :meth:`masked_image_loss` and :meth:`masked_language_loss`)."""
        return self.masked_image_loss(mae_pred, mae_target, mae_mask) + self.masked_language_loss(
            mlm_logits, mlm_labels
        )
