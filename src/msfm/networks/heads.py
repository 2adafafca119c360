"""Projection heads into the shared space and the image-text matching head."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["ProjectionHead", "ImageTextMatchingHead"]


class ProjectionHead(nn.Module):
    """Two-layer MLP projection (Linear → GELU → Linear), applied to the last dimension.

    Args:
        in_dim: input width.
        out_dim: shared embedding width.
        hidden_dim: hidden width; defaults to ``in_dim``.
    """

    def __init__(self, in_dim: int, out_dim: int, hidden_dim: int | None = None) -> None:
        super().__init__()
        hidden_dim = hidden_dim or in_dim
        self.net = nn.Sequential(nn.Linear(in_dim, hidden_dim), nn.GELU(), nn.Linear(hidden_dim, out_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class ImageTextMatchingHead(nn.Module):
    """Simple fusion for image-text matching: no cross-attention.

    ``f(v, t) = W2·GELU(W1·[v̂, t̂, v̂ ⊙ t̂, |v̂ − t̂|] + b1) + b2`` on unit-normalised embeddings.

    Args:
        embed_dim: width of the shared embeddings.
        hidden_dim: hidden width.
    """

    def __init__(self, embed_dim: int, hidden_dim: int = 512) -> None:
        super().__init__()
        self.fc1 = nn.Linear(4 * embed_dim, hidden_dim)
        self.fc2 = nn.Linear(hidden_dim, 1)

    def forward(self, image_emb: torch.Tensor, text_emb: torch.Tensor) -> torch.Tensor:
        """``([n, D], [n, D])`` → ``[n]`` match logits."""
        v, t = F.normalize(image_emb, dim=-1), F.normalize(text_emb, dim=-1)
        fused = torch.cat([v, t, v * t, (v - t).abs()], dim=-1)
        return self.fc2(F.gelu(self.fc1(fused))).squeeze(-1)
