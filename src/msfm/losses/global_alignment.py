"""Global scale: CLIP contrastive alignment of image and report embeddings."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from msfm.losses.distributed import gather_with_grad

__all__ = ["GlobalAlignmentLoss", "symmetric_cross_entropy"]


def symmetric_cross_entropy(logits: torch.Tensor) -> torch.Tensor:
    """``(CE(logits) + CE(logitsᵀ)) / 2`` with the diagonal as the positives of a square logit matrix."""
    labels = torch.arange(logits.shape[0], device=logits.device)
    return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.t(), labels)) / 2


class GlobalAlignmentLoss(nn.Module):
    """CLIP InfoNCE over all image-report pairs of the (gathered) batch.

    With ``S_ik = cos(v_i, t_k)`` for image embedding ``v_i`` and report embedding ``t_k``:

    ``Lg = (CE(S / τ) + CE(Sᵀ / τ)) / 2``

    where CE is the cross-entropy with the matching pair (the diagonal) as the target class.

    Args:
        temperature: initial τ.
        learnable: learn τ (as ``log(1/τ)``, like CLIP); otherwise it stays fixed.
        max_logit_scale: upper clamp of ``1/τ`` for stability (CLIP uses 100).
    """

    def __init__(self, temperature: float = 0.07, learnable: bool = True, max_logit_scale: float = 100.0) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}.")
        log_scale = torch.tensor(math.log(1.0 / temperature))
        if learnable:
            self.log_logit_scale = nn.Parameter(log_scale)
        else:
            self.register_buffer("log_logit_scale", log_scale)
        self.max_logit_scale = max_logit_scale

    @property
    def logit_scale(self) -> torch.Tensor:
        """``1/τ``, clamped to ``max_logit_scale``."""
        return self.log_logit_scale.exp().clamp(max=self.max_logit_scale)

    def forward(self, image_emb: torch.Tensor, text_emb: torch.Tensor) -> torch.Tensor:
        """
        Args:
            image_emb: ``[B, D]`` image embeddings (normalised here).
            text_emb: ``[B, D]`` report embeddings of the same pairs (normalised here).

        Returns:
            the scalar loss over the batch gathered from all ranks.
        """
        if image_emb.shape != text_emb.shape or image_emb.ndim != 2:
            raise ValueError(f"expected two [B, D] tensors, got {tuple(image_emb.shape)} and {tuple(text_emb.shape)}.")
        image_emb = gather_with_grad(F.normalize(image_emb, dim=-1))
        text_emb = gather_with_grad(F.normalize(text_emb, dim=-1))
        return symmetric_cross_entropy(self.logit_scale * image_emb @ text_emb.t())
