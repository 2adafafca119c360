"""Report augmentation on tokenised reports: a random subset of the sentences, in random order."""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping

import numpy as np
from monai.transforms import RandomizableTransform

__all__ = ["RandSentenceSubsetd"]


class RandSentenceSubsetd(RandomizableTransform):
    """Keep a random subset of a tokenised report's sentences, in random order.

    Report sentences are largely independent statements, so a subset in any order still describes the image.
    Sampling and shuffling them, as ConVIRT, MGCA and MedCLIP do, shows the text encoder a different report each
    epoch, so that it cannot identify a training pair by its exact wording (memorisation), and teaches the
    sentence-to-region alignment sentences without their neighbours.

    Works on the output of :class:`~msfm.data.TokenizeReportd`: ``input_ids``, ``attention_mask`` and
    ``sentence_index`` (-1 on [CLS], [SEP] and padding) are rewritten together; the sequence keeps its length.

    Args:
        min_fraction: the least share of the sentences kept (at least one sentence is always kept).
        prob: probability of augmenting a report; the others pass unchanged.
        pad_token_id: the tokenizer's padding id, written into the freed positions.
    """

    def __init__(self, min_fraction: float = 0.5, prob: float = 1.0, pad_token_id: int = 0) -> None:
        if not 0.0 < min_fraction <= 1.0:
            raise ValueError(f"min_fraction must lie in (0, 1], got {min_fraction}.")
        RandomizableTransform.__init__(self, prob)
        self.min_fraction = min_fraction
        self.pad_token_id = pad_token_id

    def __call__(self, data: Mapping[Hashable, object]) -> dict[Hashable, object]:
        d = dict(data)
        self.randomize(None)
        owner = np.asarray(d["sentence_index"])
        count = int(owner.max()) + 1
        if not self._do_transform or count < 1:
            return d
        ids, mask = np.asarray(d["input_ids"]), np.asarray(d["attention_mask"])
        kept = self.R.permutation(count)[: self.R.randint(max(1, math.ceil(self.min_fraction * count)), count + 1)]
        length, last = ids.shape[0], int(mask.nonzero()[0][-1])  # [CLS] at 0, [SEP] at the last attended place
        new_rank = np.full(count, -1)
        new_rank[kept] = np.arange(len(kept))
        token_rank = np.where(owner >= 0, new_rank[owner], -1)
        tokens = np.flatnonzero(token_rank >= 0)
        tokens = tokens[np.argsort(token_rank[tokens], kind="stable")]  # kept sentences in their new order
        pad = length - tokens.size - 2
        padding = np.full(pad, self.pad_token_id)
        d["input_ids"] = np.concatenate([ids[[0]], ids[tokens], ids[[last]], padding]).astype(ids.dtype)
        d["attention_mask"] = (np.arange(length) < length - pad).astype(mask.dtype)
        d["sentence_index"] = np.concatenate([[-1], token_rank[tokens], np.full(pad + 1, -1)]).astype(owner.dtype)
        return d
