from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from msfm.metrics import MeanAUCMetric, per_class_auc


@pytest.mark.parametrize("num_classes", [1, 5])
def test_mean_auc_equals_sklearn_over_batches(num_classes):
    rng = np.random.default_rng(num_classes)
    labels = rng.integers(0, 2, (50, num_classes)).astype(float)
    scores = labels * 0.3 + rng.random((50, num_classes))
    metric = MeanAUCMetric()
    for start in range(0, 50, 16):
        metric(torch.tensor(scores[start : start + 16]), torch.tensor(labels[start : start + 16]))
    expected = np.mean([roc_auc_score(labels[:, c], scores[:, c]) for c in range(num_classes)])
    assert float(metric.aggregate()) == pytest.approx(expected, abs=1e-7)
    assert per_class_auc(scores, labels) == pytest.approx([roc_auc_score(labels[:, c], scores[:, c]) for c in range(num_classes)])


def test_class_with_one_label_value_is_left_out():
    labels = np.array([[0, 1], [1, 1], [0, 1], [1, 1]], dtype=float)
    scores = np.array([[0.1, 0.3], [0.8, 0.2], [0.3, 0.9], [0.7, 0.4]])
    with pytest.warns(UserWarning, match="class 1"):
        aucs = per_class_auc(scores, labels)
    assert aucs[0] == 1.0 and np.isnan(aucs[1])
    metric = MeanAUCMetric()
    with pytest.warns(UserWarning):
        metric(torch.tensor(scores), torch.tensor(labels))
        assert float(metric.aggregate()) == 1.0
    with pytest.raises(ValueError, match="no samples"):
        MeanAUCMetric().aggregate()
