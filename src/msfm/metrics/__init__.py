"""Metrics: mean AUC (scikit-learn), retrieval Recall@K, per-image Dice (SIIM convention) and phrase-grounding scores."""

from __future__ import annotations

from msfm.metrics.classification import MeanAUCMetric, per_class_auc
from msfm.metrics.grounding import (
    GROUNDING_THRESHOLDS,
    ContrastToNoiseMetric,
    GroundingIoUMetric,
    boxes_to_mask,
    contrast_to_noise,
    grounding_heatmap,
    grounding_iou,
    phrase_sensitivity,
)
from msfm.metrics.retrieval import RETRIEVAL_DIRECTIONS, RetrievalRecallMetric, finding_precision, retrieval_recall
from msfm.metrics.segmentation import ImageDiceMetric, per_image_dice

__all__ = [
    "GROUNDING_THRESHOLDS",
    "ContrastToNoiseMetric",
    "GroundingIoUMetric",
    "ImageDiceMetric",
    "MeanAUCMetric",
    "RETRIEVAL_DIRECTIONS",
    "RetrievalRecallMetric",
    "boxes_to_mask",
    "contrast_to_noise",
    "grounding_heatmap",
    "grounding_iou",
    "phrase_sensitivity",
    "per_class_auc",
    "per_image_dice",
    "finding_precision",
    "retrieval_recall",
]
