"""Mean AUC over classes (MONAI's ``compute_roc_auc``, equal to scikit-learn's ``roc_auc_score``)."""

from __future__ import annotations

import logging
import warnings

import numpy as np
import torch
from monai.metrics import CumulativeIterationMetric, compute_roc_auc
from monai.utils import Average

__all__ = ["per_class_auc", "MeanAUCMetric"]

logger = logging.getLogger(__name__)


def per_class_auc(scores: np.ndarray | torch.Tensor, labels: np.ndarray | torch.Tensor) -> np.ndarray:
    """ROC AUC of each class column (MONAI's ``compute_roc_auc``); NaN (with a warning that names the class) for
    a class whose labels are all equal, where AUC is undefined.

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
    with warnings.catch_warnings():  # replaced below by a warning that names the class
        warnings.filterwarnings("ignore", message="y values can not be all")
        aucs = compute_roc_auc(torch.as_tensor(scores), torch.as_tensor(labels), average=Average.NONE)
    aucs = np.asarray(aucs if isinstance(aucs, list) else [aucs], dtype=float)
    for c in np.flatnonzero(np.isnan(aucs)):
        warnings.warn(f"class {c}: only one label value among {len(labels)} samples; its AUC is undefined.")
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
