from __future__ import annotations

import pytest
import torch

from msfm.metrics import ImageDiceMetric, per_image_dice


def test_per_image_dice_hand_computed_and_empty_cases():
    pred = torch.zeros(4, 1, 3, 3)
    target = torch.zeros(4, 1, 3, 3)
    pred[0, 0, 0, :2] = 0.9  # P = 2 pixels
    target[0, 0, 0, 1:] = 1  # G = 2 pixels, overlap 1 -> 2*1/4 = 0.5
    # image 1: both empty -> 1
    pred[2, 0, 1, 1] = 0.8  # prediction only -> 0
    target[3, 0, 2, 2] = 1  # truth only -> 0
    assert per_image_dice(pred, target).tolist() == [0.5, 1.0, 0.0, 0.0]
    assert per_image_dice(pred, target, threshold=0.85).tolist() == [0.5, 1.0, 1.0, 0.0]  # 0.8 is below


def test_mean_counts_every_image_including_negatives():
    pred = torch.zeros(3, 1, 2, 2)
    target = torch.zeros(3, 1, 2, 2)
    pred[0, 0, 0, 0] = target[0, 0, 0, 0] = 1  # 1
    target[1, 0, 1, 1] = 1  # 0 (missed)
    metric = ImageDiceMetric()
    metric(pred[:2], target[:2])
    metric(pred[2:], target[2:])  # both empty: 1
    assert metric.aggregate().item() == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="differ in shape"):
        per_image_dice(pred, target[:, :, :1])
