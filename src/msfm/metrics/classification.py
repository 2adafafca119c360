"""Mean AUC over classes, computed by scikit-learn as the reference protocols do."""

from __future__ import annotations

import logging
import warnings

import numpy as np
import torch
from monai.metrics import CumulativeIterationMetric
from monai.utils import optional_import

roc_auc_score, _ = optional_import("sklearn.metrics", name="roc_auc_score")

__all__ = ["per_class_auc", "MeanAUCMetric"]

logger = logging.getLogger(__name__)


def per_class_auc(scores: np.ndarray | torch.Tensor, labels: np.ndarray | torch.Tensor) -> np.ndarray:
    """``sklearn.metrics.roc_auc_score`` of each class column; NaN (with a warning) for a class whose labels are
    all equal, where AUC is undefined.

    Args:
        scores: ``[N]`` or ``[N, C]`` scores (probabilities or logits: AUC depends only on their order).
        labels: binary labels of the same shape.

    Returns:
        ``[C]`` AUCs.
    """
    scores = np.asarray(torch.as_tensor(scores).detach().float().cpu()).reshape(len(scores), -1)
    labels = np.asarray(torch.as_tensor(labels).detach().float().cpu()).reshape(len(labels), -1)
    if scores.shape != labels.shape:
        raise ValueError(f"scores {scores.shape} and labels {labels.shape} differ in shape.")
    aucs = np.full(scores.shape[1], np.nan)
    for c in range(scores.shape[1]):
        if len(np.unique(labels[:, c])) < 2:
            warnings.warn(f"class {c}: only one label value among {len(labels)} samples; its AUC is undefined.")
            continue
        aucs[c] = roc_auc_score(labels[:, c], scores[:, c])
    return aucs


class MeanAUCMetric(CumulativeIterationMetric):
    """Mean over classes of :func:`per_class_auc` (classes with undefined AUC are left out), accumulated over
    iterations (MONAI cumulative metric; wrap with ``IgniteMetricHandler`` in a workflow)."""

    def _compute_tensor(self, y_pred: torch.Tensor, y: torch.Tensor | None = None, **kwargs) -> tuple:
        if y is None:
            raise ValueError("MeanAUCMetric needs the labels y.")
        return y_pred.detach().float(), y.detach().float()

    def aggregate(self) -> torch.Tensor:
        buffer = self.get_buffer()
        if not isinstance(buffer, (list, tuple)) or buffer[0].numel() == 0:
            raise ValueError("no samples were evaluated.")
        scores, labels = buffer
        aucs = per_class_auc(scores, labels)
        if np.isnan(aucs).all():
            raise ValueError("AUC is undefined for every class: each has a single label value.")
        return torch.tensor(float(np.nanmean(aucs)))
