from __future__ import annotations

import math

import numpy as np
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
    assert contrast_to_noise(heatmap, mask, signed=True) == pytest.approx(1.5 / math.sqrt(0.125))
    assert contrast_to_noise(-heatmap, mask, signed=True) == pytest.approx(-1.5 / math.sqrt(0.125))  # inverted map


def test_heatmap_is_normalised_resized_and_peaks_at_the_hot_patch():
    similarity = torch.zeros(4, 6)
    similarity[1, 4] = 1.0
    heatmap = grounding_heatmap(similarity, (32, 48), sigma=1.0)
    assert heatmap.shape == (32, 48)
    assert heatmap.max().item() == pytest.approx(1.0) and heatmap.min().item() == pytest.approx(-1.0)
    row, column = divmod(int(heatmap.argmax()), 48)
    assert 8 <= row < 16 and 32 <= column < 40  # inside patch (1, 4) of 8 x 8 pixels
    assert torch.equal(grounding_heatmap(torch.ones(2, 2), (4, 4)), torch.zeros(4, 4))


def test_cumulative_grounding_metrics_match_the_per_sample_scores():
    """mIoU: mean over samples at each threshold (NaN skipped: an empty box mask), then over thresholds; CNR:
    mean over samples; samples of different sizes in one call."""
    from msfm.metrics import ContrastToNoiseMetric, GroundingIoUMetric

    torch.manual_seed(0)
    heatmaps = [torch.rand(6, 9) * 2 - 1, torch.rand(5, 5) * 2 - 1, torch.rand(4, 7) * 2 - 1]
    masks = [torch.rand(6, 9) > 0.5, torch.zeros(5, 5, dtype=torch.bool), torch.rand(4, 7) > 0.3]
    iou, cnr, signed_cnr = GroundingIoUMetric(), ContrastToNoiseMetric(), ContrastToNoiseMetric(signed=True)
    iou(y_pred=heatmaps[:2], y=masks[:2])
    iou(y_pred=heatmaps[2:], y=masks[2:])
    cnr(y_pred=heatmaps, y=masks)
    signed_cnr(y_pred=heatmaps, y=masks)
    per_sample = torch.stack([grounding_iou(h, m) for h, m in zip(heatmaps, masks)])
    assert per_sample[1].isnan().all()
    assert float(iou.aggregate()) == pytest.approx(float(torch.nanmean(per_sample, dim=0).mean()))
    expected = [contrast_to_noise(h, m) for h, m in zip(heatmaps, masks)]
    assert float(cnr.aggregate()) == pytest.approx(float(np.nanmean(expected)), rel=1e-6)
    signed = [contrast_to_noise(h, m, signed=True) for h, m in zip(heatmaps, masks)]
    assert min(signed) < 0 < max(signed)  # the signs differ, so the two means can too
    assert float(signed_cnr.aggregate()) == pytest.approx(float(np.nanmean(signed)), rel=1e-6)
    assert float(GroundingIoUMetric((0.3,))(y_pred=heatmaps, y=masks).nanmean()) == pytest.approx(
        float(torch.nanmean(per_sample[:, 2]))
    )


def test_phrase_sensitivity_is_one_for_maps_that_ignore_the_phrase():
    from msfm.metrics import phrase_sensitivity

    generator = torch.Generator().manual_seed(0)
    ramp = torch.linspace(0, 1, 16)[None].repeat(16, 1)  # the same left-right ramp whatever the phrase
    left, right = torch.zeros(16, 16), torch.zeros(16, 16)
    left[4:10, 1:6], right[4:10, 10:15] = 1, 1
    noise = torch.rand(16, 16, generator=generator)
    score, images = phrase_sensitivity({"a": [ramp, 2 * ramp - 1], "b": [ramp, ramp + 0.5, ramp], "c": [noise]})
    assert images == 2 and score == pytest.approx(1.0, abs=1e-6)  # "c" has one phrase: not counted
    score, _ = phrase_sensitivity({"a": [left, right]})
    assert score < 0  # the maps follow their phrases to opposite sides
    assert phrase_sensitivity({"a": [left], "b": [torch.ones(4, 4), torch.ones(4, 4)]})[1] == 0  # constant: skipped
