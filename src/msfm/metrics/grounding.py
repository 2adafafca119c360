"""Phrase grounding: similarity maps to heatmaps, box masks, IoU over thresholds and contrast-to-noise ratio, and
their cumulative metrics for MONAI workflows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from monai.metrics import CumulativeIterationMetric
from monai.utils import optional_import

from msfm.data.letterbox import Letterbox

ndimage, _ = optional_import("scipy.ndimage")

__all__ = [
    "GROUNDING_THRESHOLDS",
    "ContrastToNoiseMetric",
    "GroundingIoUMetric",
    "boxes_to_mask",
    "contrast_to_noise",
    "grounding_heatmap",
    "grounding_iou",
    "phrase_sensitivity",
]

GROUNDING_THRESHOLDS = (0.1, 0.2, 0.3, 0.4, 0.5)


def grounding_heatmap(
    similarity: torch.Tensor,
    size: Sequence[int] | None = None,
    sigma: float = 1.5,
    letterbox: Letterbox | None = None,
) -> torch.Tensor:
    """Patch-grid similarity → image-size heatmap in ``[-1, 1]``.

    Gaussian smoothing (``sigma`` in patches, reflecting borders) on the grid, bilinear resizing to the image,
    then per-map min-max normalisation to ``[-1, 1]`` (a constant map becomes 0). With ``letterbox``, the map is
    resized to the letterboxed canvas, the padding cropped and the content resized to the original image, so
    the heatmap lines up with boxes in original pixels and the padding does not take part in the min-max.

    Args:
        similarity: ``[h, w]`` phrase-patch similarity.
        size: output ``(H, W)`` when the input was resized without padding.
        sigma: smoothing width in patches.
        letterbox: the image's letterboxing (output ``letterbox.original``); give it or ``size``.

    Raises:
        ValueError: unless exactly one of ``size`` and ``letterbox`` is given.
    """
    if (size is None) == (letterbox is None):
        raise ValueError("give exactly one of size and letterbox.")
    grid = similarity.detach().double().cpu().numpy()
    smoothed = torch.from_numpy(ndimage.gaussian_filter(grid, sigma=sigma, mode="reflect") if sigma > 0 else grid)
    target = (letterbox.size, letterbox.size) if letterbox is not None else tuple(size)
    resized = F.interpolate(smoothed[None, None], size=target, mode="bilinear", align_corners=False)[0, 0]
    if letterbox is not None:
        resized = letterbox.canvas_to_original(resized).double()
    low, high = resized.min(), resized.max()
    if high - low <= 1e-9 * max(1.0, float(high.abs())):  # a flat map carries no location
        return torch.zeros(resized.shape, dtype=torch.float32)
    return (2 * (resized - low) / (high - low) - 1).float()


def boxes_to_mask(boxes: Sequence[Sequence[float]], size: Sequence[int]) -> torch.Tensor:
    """Union of ``[x, y, w, h]`` boxes (top-left corner and size, in pixels) as an ``[H, W]`` bool mask.

    Pixel ``(r, c)`` is inside a box when its centre ``(c + 0.5, r + 0.5)`` is.
    """
    rows = torch.arange(size[0]).float()[:, None] + 0.5
    columns = torch.arange(size[1]).float()[None, :] + 0.5
    mask = torch.zeros(tuple(size), dtype=torch.bool)
    for x, y, w, h in boxes:
        mask |= (columns >= x) & (columns < x + w) & (rows >= y) & (rows < y + h)
    return mask


def grounding_iou(
    heatmap: torch.Tensor, mask: torch.Tensor, thresholds: Sequence[float] = GROUNDING_THRESHOLDS
) -> torch.Tensor:
    """IoU of ``heatmap > t`` with the box mask for each threshold ``t``; NaN where either region is empty
    (such entries are skipped when averaging: use ``nanmean`` over samples, then the mean over thresholds)."""
    values = []
    for threshold in thresholds:
        predicted = heatmap > threshold
        if not predicted.any() or not mask.any():
            values.append(float("nan"))
            continue
        values.append(float((predicted & mask).sum() / (predicted | mask).sum()))
    return torch.tensor(values)


def contrast_to_noise(heatmap: torch.Tensor, mask: torch.Tensor, signed: bool = False) -> float:
    """``CNR = |μ_in − μ_out| / sqrt(σ²_in + σ²_out)`` of the heatmap inside and outside the box mask
    (population variances; the absolute value is taken, unlike one reference).

    With ``signed`` the absolute value is not taken: a map coldest on the box (inverted) scores below zero,
    where CNR scores it as high as a map hottest there.
    """
    inside, outside = heatmap[mask].double(), heatmap[~mask].double()
    if inside.numel() == 0 or outside.numel() == 0:
        return float("nan")
    noise = (inside.var(unbiased=False) + outside.var(unbiased=False)).sqrt()
    if not noise > 0:
        return float("nan")
    contrast = inside.mean() - outside.mean()
    return float((contrast if signed else contrast.abs()) / noise)


class GroundingIoUMetric(CumulativeIterationMetric):
    """Grounding mIoU accumulated over samples: per sample :func:`grounding_iou` of its heatmap and box mask at
    each threshold; :meth:`aggregate` takes the mean over samples at each threshold (NaN skipped), then the mean
    over thresholds (REFERENCE §2). One threshold gives the IoU at that threshold.

    Call it with lists of ``[H, W]`` heatmaps and masks (each sample may have its own size).

    Args:
        thresholds: the heatmap thresholds.
    """

    def __init__(self, thresholds: Sequence[float] = GROUNDING_THRESHOLDS) -> None:
        super().__init__()
        self.thresholds = tuple(thresholds)

    def _compute_tensor(self, y_pred: torch.Tensor, y: torch.Tensor | None = None, **kwargs) -> torch.Tensor:
        if y is None:
            raise ValueError("GroundingIoUMetric needs the box masks y.")
        return grounding_iou(y_pred, y.bool(), self.thresholds)[None]

    def aggregate(self) -> torch.Tensor:
        ious = self.get_buffer()
        if not isinstance(ious, torch.Tensor) or ious.numel() == 0:
            raise ValueError("no samples were evaluated.")
        return torch.nanmean(ious, dim=0).mean()


class ContrastToNoiseMetric(CumulativeIterationMetric):
    """Grounding CNR accumulated over samples: the mean of :func:`contrast_to_noise` over samples, NaN skipped.
    Call it with lists of ``[H, W]`` heatmaps and masks.

    Args:
        signed: the signed CNR, below zero for maps coldest on their boxes (see :func:`contrast_to_noise`).
    """

    def __init__(self, signed: bool = False) -> None:
        super().__init__()
        self.signed = signed

    def _compute_tensor(self, y_pred: torch.Tensor, y: torch.Tensor | None = None, **kwargs) -> torch.Tensor:
        if y is None:
            raise ValueError("ContrastToNoiseMetric needs the box masks y.")
        return torch.tensor([[contrast_to_noise(y_pred, y.bool(), self.signed)]])

    def aggregate(self) -> torch.Tensor:
        values = self.get_buffer()
        if not isinstance(values, torch.Tensor) or values.numel() == 0:
            raise ValueError("no samples were evaluated.")
        return torch.nanmean(values.double()).float()


def phrase_sensitivity(maps_by_image: Mapping[str, Sequence[torch.Tensor]]) -> tuple[float, int]:
    """How much grounding maps depend on the phrase: the mean Pearson correlation between the maps of different
    phrases on the same image, averaged over the images that have two or more (each image weighs the same).

    ``S = mean_images mean_{p != q} corr(M_p, M_q)``: a map that ignores the phrase scores 1; maps that follow
    their phrases to different places score well below 1. Constant maps (no correlation defined) are skipped.

    Args:
        maps_by_image: image → the maps of its phrases, each ``[H, W]`` of that image's size.

    Returns:
        ``S`` (NaN when no image has two phrases) and the number of images it averages.
    """
    scores = []
    for maps in maps_by_image.values():
        if len(maps) < 2:
            continue
        flat = torch.stack([m.flatten().float() for m in maps])
        flat = flat - flat.mean(dim=1, keepdim=True)
        norms = flat.norm(dim=1)
        valid = norms > 0
        if valid.sum() < 2:
            continue
        unit = flat[valid] / norms[valid, None]
        correlation = unit @ unit.t()
        count = len(unit)
        scores.append(float((correlation.sum() - correlation.diagonal().sum()) / (count * (count - 1))))
    return (float(sum(scores) / len(scores)) if scores else float("nan")), len(scores)
