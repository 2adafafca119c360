from __future__ import annotations

import math

import pytest
import torch

from msfm.metrics import boxes_to_mask, contrast_to_noise, grounding_heatmap, grounding_iou


def test_boxes_to_mask_union():
    mask = boxes_to_mask([[1, 0, 2, 2], [3, 2, 1, 1]], (4, 5))
    expected = torch.zeros(4, 5, dtype=torch.bool)
    expected[0:2, 1:3] = True
    expected[2, 3] = True
    assert torch.equal(mask, expected)


def test_iou_per_threshold_hand_computed():
    heatmap = torch.tensor([[0.9, 0.35, -1.0], [0.15, -0.5, -1.0]])
    mask = torch.tensor([[True, True, False], [False, False, False]])
    iou = grounding_iou(heatmap, mask, thresholds=(0.1, 0.3, 0.5, 0.95))
    # >0.1: {0.9, 0.35, 0.15} vs mask {0.9, 0.35}: 2/3; >0.3: exact: 1; >0.5: {0.9}: 1/2; >0.95: empty -> NaN
    assert iou[:3].tolist() == pytest.approx([2 / 3, 1.0, 0.5])
    assert math.isnan(iou[3])
    assert torch.isnan(grounding_iou(heatmap, torch.zeros_like(mask))).all()


def test_cnr_hand_computed():
    heatmap = torch.tensor([[1.0, 0.5, -1.0, -0.5]])
    mask = torch.tensor([[True, True, False, False]])
    # in: mean 0.75, var 0.0625; out: mean -0.75, var 0.0625 -> 1.5 / sqrt(0.125)
    assert contrast_to_noise(heatmap, mask) == pytest.approx(1.5 / math.sqrt(0.125))
    assert contrast_to_noise(-heatmap, mask) == pytest.approx(1.5 / math.sqrt(0.125))  # absolute difference


def test_heatmap_is_normalised_resized_and_peaks_at_the_hot_patch():
    similarity = torch.zeros(4, 6)
    similarity[1, 4] = 1.0
    heatmap = grounding_heatmap(similarity, (32, 48), sigma=1.0)
    assert heatmap.shape == (32, 48)
    assert heatmap.max().item() == pytest.approx(1.0) and heatmap.min().item() == pytest.approx(-1.0)
    row, column = divmod(int(heatmap.argmax()), 48)
    assert 8 <= row < 16 and 32 <= column < 40  # inside patch (1, 4) of 8 x 8 pixels
    assert torch.equal(grounding_heatmap(torch.ones(2, 2), (4, 4)), torch.zeros(4, 4))
