"""Hard-negative pairs for image-text matching, drawn by the network in its training forward pass."""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from msfm.losses.distributed import gather_no_grad, gather_with_grad, rank_offset

__all__ = ["HardNegativeSampler", "MatchingPairs", "report_duplicate_mask"]


def report_duplicate_mask(
    tokens_a: torch.Tensor,
    tokens_b: torch.Tensor,
    threshold: float = 1.0,
    mask_a: torch.Tensor | None = None,
    mask_b: torch.Tensor | None = None,
) -> torch.Tensor:
    """Pairs of reports that must not serve as each other's negatives.

    Reports are compared as bags of token ids (padding ignored): a pair is a duplicate when the cosine of their
    token-count vectors is at least ``threshold``. ``1.0`` flags identical wording (in any order) only; lower
    values also flag near-duplicates such as the many normal reports that differ by a word or two.

    Args:
        tokens_a: ``[A, L]`` token ids.
        tokens_b: ``[B, L]`` token ids.
        threshold: cosine at or above which two reports count as duplicates.
        mask_a: ``[A, L]`` attention mask (0 on padding); None counts every token.
        mask_b: ``[B, L]`` attention mask of ``tokens_b``.

    Returns:
        ``[A, B]`` bool.
    """
    vocab = int(torch.maximum(tokens_a.max(), tokens_b.max())) + 1

    def bags(tokens: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        counts = torch.zeros(tokens.shape[0], vocab, device=tokens.device)
        counts.scatter_add_(1, tokens, torch.ones_like(tokens, dtype=torch.float) if mask is None else mask.float())
        return F.normalize(counts, dim=-1)

    return bags(tokens_a, mask_a) @ bags(tokens_b, mask_b).t() >= threshold - 1e-6


class MatchingPairs(NamedTuple):
    """The B matching pairs, then each image with its drawn negative report, then each report with its drawn
    negative image: ``images [3B, D]``, ``texts [3B, D]``, ``targets [3B]`` (1 for a match) and ``weights [3B]``
    (0 on a negative that could not be drawn)."""

    images: torch.Tensor
    texts: torch.Tensor
    targets: torch.Tensor
    weights: torch.Tensor


class HardNegativeSampler(nn.Module):
    """Draws in-batch hard negatives for image-text matching (ITM); it has no parameters.

    For every image ``i`` one negative report ``n(i)`` is drawn, and for every report ``j`` one negative image
    ``m(j)``, with probability ``∝ softmax(S/τ) + floor`` over the batch gathered from all ranks, where ``S`` is
    the cosine similarity of the embeddings; the matching pair and duplicate reports get probability 0. A row
    with no admissible negative (every other report is a duplicate) gets weight 0 on its negative pair.

    Args:
        temperature: τ of the sampling softmax.
        floor: added to every admissible probability so that sampling never fails.
        duplicate_threshold: bag-of-tokens cosine from which two reports count as duplicates
            (see :func:`report_duplicate_mask`).
        seed: seed of the sampling generator (offset by the rank in distributed runs).
    """

    def __init__(
        self,
        temperature: float = 0.07,
        floor: float = 1e-4,
        duplicate_threshold: float = 0.9,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.temperature = temperature
        self.floor = floor
        self.duplicate_threshold = duplicate_threshold
        self.seed = seed
        self.generator: torch.Generator | None = None

    def _generator(self) -> torch.Generator:
        if self.generator is None:
            self.generator = torch.Generator().manual_seed(self.seed + rank_offset(1))
        return self.generator

    def sample_negatives(self, similarity: torch.Tensor, excluded: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Draw one negative column per row.

        Args:
            similarity: ``[b, N]`` cosine similarities.
            excluded: ``[b, N]`` bool, pairs that may never be drawn (the positive, duplicates).

        Returns:
            ``(index [b], valid [b] bool)``; ``valid`` is False for rows without any admissible column.
        """
        weights = (torch.softmax(similarity.detach().float() / self.temperature, dim=1) + self.floor).masked_fill(
            excluded, 0.0
        )
        valid = weights.sum(dim=1) > 0
        weights[~valid] = 1.0  # placeholder draw, masked out by ``valid``
        index = torch.multinomial(weights.cpu(), 1, generator=self._generator()).squeeze(1)
        return index.to(similarity.device), valid

    def forward(
        self,
        image_emb: torch.Tensor,
        text_emb: torch.Tensor,
        report_tokens: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
    ) -> MatchingPairs:
        """
        Args:
            image_emb: ``[B, D]`` this rank's image embeddings.
            text_emb: ``[B, D]`` this rank's report embeddings.
            report_tokens: ``[B, L]`` report token ids, to exclude duplicate reports; None excludes only the
                matching pair.
            attention_mask: ``[B, L]``, 0 on the padding of ``report_tokens``.

        Returns:
            the positive and negative pairs with their targets and weights (:class:`MatchingPairs`).
        """
        batch = image_emb.shape[0]
        all_images = gather_with_grad(image_emb)
        all_texts = gather_with_grad(text_emb)
        positives = torch.arange(batch, device=image_emb.device) + rank_offset(batch)
        excluded = F.one_hot(positives, all_texts.shape[0]).bool()
        if report_tokens is not None:
            all_masks = None if attention_mask is None else gather_no_grad(attention_mask)
            excluded |= report_duplicate_mask(
                report_tokens, gather_no_grad(report_tokens), self.duplicate_threshold, attention_mask, all_masks
            )
        image_unit, text_unit = F.normalize(image_emb, dim=-1), F.normalize(text_emb, dim=-1)
        negative_text, text_valid = self.sample_negatives(image_unit @ F.normalize(all_texts, dim=-1).t(), excluded)
        negative_image, image_valid = self.sample_negatives(text_unit @ F.normalize(all_images, dim=-1).t(), excluded)
        images = torch.cat([image_emb, image_emb, all_images[negative_image]])
        texts = torch.cat([text_emb, all_texts[negative_text], text_emb])
        targets = torch.cat([torch.ones(batch), torch.zeros(2 * batch)]).to(image_emb)
        weights = torch.cat([torch.ones_like(text_valid), text_valid, image_valid]).to(image_emb)
        return MatchingPairs(images, texts, targets, weights)
