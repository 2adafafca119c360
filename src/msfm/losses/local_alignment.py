"""Local scale: sentence-to-region alignment."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from msfm.losses.distributed import gather_no_grad, gather_with_grad
from msfm.losses.global_alignment import symmetric_cross_entropy

__all__ = ["LocalAlignmentLoss", "local_alignment_scores"]


class _Gram(torch.autograd.Function):
    """``G = V Vᵀ`` per batch item, with the symmetric backward ``dV = (dG + dGᵀ) V``: one GEMM instead of the two
    that autograd runs for a product of two operands."""

    @staticmethod
    def forward(ctx, vectors: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(vectors)
        return vectors @ vectors.transpose(1, 2)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        (vectors,) = ctx.saved_tensors
        return (grad + grad.transpose(1, 2)) @ vectors


def local_alignment_scores(
    region_emb: torch.Tensor,
    sentence_emb: torch.Tensor,
    sentence_mask: torch.Tensor,
    gamma1: float = 4.0,
    gamma2: float = 5.0,
    eps: float = 1e-8,
) -> torch.Tensor:
    """Image-report scores ``Z(i, k)`` for every image ``i`` and report ``k``, without loops.

    For sentence ``t_j`` of report ``k`` and regions ``v_r`` of image ``i``:
    ``a_r = softmax_r(γ1·cos(t_j, v_r))``, ``c_j = Σ_r a_r v_r`` and
    ``Z(i, k) = (1/γ2)·log Σ_{j real} exp(γ2·cos(c_j, t_j))``.

    ``cos(c_j, t_j)`` needs ``|c_j|``, which is computed from the regions' Gram matrix
    (``|c|² = aᵀ G a``) instead of materialising ``c`` as ``[I, K, S, D]``: cheaper whenever ``R < D``.
    Only real sentences are computed.

    Args:
        region_emb: ``[I, R, D]`` region (patch) embeddings.
        sentence_emb: ``[K, S, D]`` sentence embeddings, padded to ``S``.
        sentence_mask: ``[K, S]`` bool, True for real sentences.
        gamma1: attention sharpness.
        gamma2: sentence aggregation sharpness.
        eps: numerical floor of the norms.

    Returns:
        ``[I, K]`` scores.

    Raises:
        ValueError: when a report has no real sentence.
    """
    sentence_mask = sentence_mask.bool()
    if not bool(sentence_mask.any(dim=1).all()):
        raise ValueError("every report needs at least one real sentence (sentence_mask has an all-False row).")
    images, reports, slots = region_emb.shape[0], sentence_emb.shape[0], sentence_emb.shape[1]
    real = sentence_mask.reshape(-1).nonzero().squeeze(1)  # padded slots cost nothing
    text = F.normalize(sentence_emb.reshape(reports * slots, -1)[real], dim=-1, eps=eps)  # [N, D]
    # one batched GEMM with regions last keeps every [I, N, R] intermediate contiguous
    dots = torch.matmul(text, region_emb.transpose(1, 2))  # v_r · t̂_j
    attn_scale = gamma1 / region_emb.norm(dim=-1).clamp_min(eps)  # γ1 / |v_r|, [I, R]
    attn = torch.softmax(dots * attn_scale[:, None, :], dim=-1)
    context_dot_text = (attn * dots).sum(-1)  # c_j · t̂_j, [I, N]
    gram = _Gram.apply(region_emb)  # [I, R, R]
    context_sq_norm = (torch.bmm(attn, gram) * attn).sum(-1)  # |c_j|² = aᵀ G a
    cosine = context_dot_text / context_sq_norm.clamp_min(eps * eps).sqrt()
    logits = cosine.new_full((images, reports * slots), float("-inf"))
    logits[:, real] = gamma2 * cosine
    return torch.logsumexp(logits.reshape(images, reports, slots), dim=-1) / gamma2


class LocalAlignmentLoss(nn.Module):
    """Contrastive sentence-to-region loss (GLoRIA/MGCA-style local alignment at sentence level).

    With ``Z(i, k)`` from :func:`local_alignment_scores`:

    ``Ll = (CE(Z / τ) + CE(Zᵀ / τ)) / 2``

    over all image-report pairs of the (gathered) batch. This implements the equation as written, with the
    ``1/γ2`` factor and no extra softmax (a GLoRIA-style reference drops ``1/γ2`` and adds a softmax).
    Padded sentences (``sentence_mask`` False) contribute nothing. :class:`msfm.networks.MSFMNet` passes region
    embeddings centred on their image mean by default (``center_regions``), so that the image-wide content shared
    by all ViT tokens cannot match a sentence by itself.

    Args:
        gamma1: attention sharpness γ1.
        gamma2: sentence aggregation sharpness γ2.
        temperature: τ2 (``1/τ2 = 10`` by default).
    """

    def __init__(self, gamma1: float = 4.0, gamma2: float = 5.0, temperature: float = 0.1) -> None:
        super().__init__()
        self.gamma1 = gamma1
        self.gamma2 = gamma2
        self.temperature = temperature

    def forward(
        self, region_emb: torch.Tensor, sentence_emb: torch.Tensor, sentence_mask: torch.Tensor
    ) -> torch.Tensor:
        """
        Args:
            region_emb: ``[B, R, D]`` region embeddings.
            sentence_emb: ``[B, S, D]`` sentence embeddings.
            sentence_mask: ``[B, S]`` bool, True for real sentences.

        Returns:
            the scalar loss over the batch gathered from all ranks.
        """
        if region_emb.shape[0] != sentence_emb.shape[0] or sentence_emb.shape[:2] != sentence_mask.shape:
            raise ValueError(
                f"shape mismatch: regions {tuple(region_emb.shape)}, sentences {tuple(sentence_emb.shape)}, "
                f"mask {tuple(sentence_mask.shape)}."
            )
        scores = local_alignment_scores(
            gather_with_grad(region_emb),
            gather_with_grad(sentence_emb),
            gather_no_grad(sentence_mask.bool()),
            self.gamma1,
            self.gamma2,
        )
        return symmetric_cross_entropy(scores / self.temperature)
