"""Global scale: CLIP contrastive alignment of image and report embeddings."""

from __future__ import annotations

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

    where CE is the cross-entropy with the matching pair (the diagonal) as the target class. The loss is
    stateless: ``1/τ`` (``logit_scale``) is the network's learnable parameter, passed in with the embeddings.
    """

    def forward(self, image_emb: torch.Tensor, text_emb: torch.Tensor, logit_scale: torch.Tensor | float) -> torch.Tensor:
        """
        Args:
            image_emb: ``[B, D]`` image embeddings (normalised here).
            text_emb: ``[B, D]`` report embeddings of the same pairs (normalised here).
            logit_scale: ``1/τ``, a scalar.

        Returns:
            the scalar loss over the batch gathered from all ranks.
        """
        if image_emb.shape != text_emb.shape or image_emb.ndim != 2:
            raise ValueError(f"expected two [B, D] tensors, got {tuple(image_emb.shape)} and {tuple(text_emb.shape)}.")
        image_emb = gather_with_grad(F.normalize(image_emb, dim=-1))
        text_emb = gather_with_grad(F.normalize(text_emb, dim=-1))
        return symmetric_cross_entropy(logit_scale * image_emb @ text_emb.t())
