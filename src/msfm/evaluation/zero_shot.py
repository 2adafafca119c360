"""Parts of the zero-shot evaluators (classification from prompts, phrase grounding, retrieval) that MONAI does
not provide: the label column a binary score is checked against, a collation that keeps box lists, and the
grounding postprocessing from similarity maps to heatmaps in original pixels."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from monai.data import list_data_collate
from monai.transforms import Transform

from msfm.data.letterbox import Letterbox
from msfm.metrics import boxes_to_mask, grounding_heatmap

__all__ = ["GroundingHeatmaps", "collate_keeping_lists", "label_column"]


def label_column(output: Mapping, column: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``(pred, label[:, column])`` as ``[B, 1]`` each, from a batched (not decollated) engine output: a binary
    score checked against one column of a multi-label datalist."""
    return output["pred"].float(), output["label"][:, column : column + 1].float()


def collate_keeping_lists(batch: Sequence[Mapping], keys: Sequence[str] = ("boxes",)) -> dict:
    """MONAI's ``list_data_collate``, except that ``keys`` stay lists of the samples' values (a phrase's boxes are
    a list of any length, which tensors cannot stack)."""
    kept = {key: [item[key] for item in batch] for key in keys}
    return {**list_data_collate([{k: v for k, v in item.items() if k not in keys} for item in batch]), **kept}


class GroundingHeatmaps(Transform):
    """Postprocessing of a grounding evaluator's batched output (REFERENCE §2): each phrase-patch similarity map
    ``pred [B, h, w]`` becomes a ``heatmap`` in its image's original pixels (smoothed, the letterbox undone,
    min-max normalised to ``[-1, 1]``; :func:`msfm.metrics.grounding_heatmap`), and the phrase's ``boxes`` (original
    pixels) its ``truth`` mask. Both are lists, one ``[H, W]`` tensor per sample.

    The images are the batched letterboxed ``image`` (a MetaTensor whose ``spatial_shape`` is the original size).

    Args:
        sigma: smoothing in patches.
    """

    def __init__(self, sigma: float = 1.5) -> None:
        self.sigma = sigma

    def __call__(self, data: Mapping) -> dict:
        canvas = data["image"].shape[-1]
        heatmaps, truths = [], []
        for similarity, shape, boxes in zip(data["pred"], data["image"].meta["spatial_shape"], data["boxes"]):
            letterbox = Letterbox(tuple(int(s) for s in shape), canvas)
            heatmaps.append(grounding_heatmap(similarity.float().cpu(), sigma=self.sigma, letterbox=letterbox))
            truths.append(boxes_to_mask(boxes, letterbox.original))
        return {**data, "heatmap": heatmaps, "truth": truths}
