"""Per-image Dice with the SIIM convention (empty prediction and empty truth score 1)."""

from __future__ import annotations

import torch
from monai.metrics import CumulativeIterationMetric, compute_dice

__all__ = ["per_image_dice", "ImageDiceMetric"]


def per_image_dice(pred: torch.Tensor, target: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """Dice of each image, ``P = pred > threshold`` against ``G = target > 0.5``:

    ``D = 1`` if ``|P| = |G| = 0``; ``0`` if exactly one is empty; else ``2|P ∩ G| / (|P| + |G|)``.

    This is MONAI's ``compute_dice`` with ``ignore_empty=False``; unlike MONAI's default, every image counts.

    Args:
        pred: ``[B, ...]`` probabilities.
        target: ``[B, ...]`` binary ground truth of the same shape.
        threshold: probability above which a pixel is predicted positive.

    Returns:
        ``[B]`` Dice scores.
    """
    if pred.shape != target.shape:
        raise ValueError(f"prediction {tuple(pred.shape)} and target {tuple(target.shape)} differ in shape.")
    predicted, truth = ((x.flatten(1)[:, None]).float() for x in (pred > threshold, target > 0.5))
    return compute_dice(predicted, truth, include_background=True, ignore_empty=False)[:, 0]


class ImageDiceMetric(CumulativeIterationMetric):
    """Mean of :func:`per_image_dice` over all evaluated images, negatives included (MONAI cumulative metric).

    Args:
        threshold: probability above which a pixel is predicted positive.
    """

    def __init__(self, threshold: float = 0.5) -> None:
        super().__init__()
        self.threshold = threshold

    def _compute_tensor(self, y_pred: torch.Tensor, y: torch.Tensor | None = None, **kwargs) -> torch.Tensor:
        if y is None:
            raise ValueError("ImageDiceMetric needs the ground truth y.")
        return per_image_dice(y_pred, y, self.threshold)[:, None]

    def aggregate(self) -> torch.Tensor:
        scores = self.get_buffer()
        if not isinstance(scores, torch.Tensor) or scores.numel() == 0:
            raise ValueError("no images were evaluated.")
        return scores.float().mean()
