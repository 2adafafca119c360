"""The zero-shot evaluators' own parts: the scored label column, the collation that keeps box lists, and the
grounding postprocessing into original pixels."""

from __future__ import annotations

import torch
from monai.data import MetaTensor

from msfm.data.letterbox import Letterbox
from msfm.evaluation import GroundingHeatmaps, collate_keeping_lists, label_column


def test_label_column_pairs_the_score_with_one_label():
    pred, label = label_column({"pred": torch.tensor([[0.2], [0.9]]), "label": torch.tensor([[0, 1], [1, 0]])}, 1)
    assert pred.shape == label.shape == (2, 1) and label.flatten().tolist() == [1.0, 0.0]


def test_collation_keeps_ragged_box_lists():
    samples = [{"image": torch.zeros(1, 4, 4), "boxes": [[0, 0, 1, 1]], "phrase": "a"},
               {"image": torch.ones(1, 4, 4), "boxes": [[0, 0, 1, 1], [2, 2, 1, 1]], "phrase": "b"}]
    batch = collate_keeping_lists(samples)
    assert batch["image"].shape == (2, 1, 4, 4) and batch["phrase"] == ["a", "b"]
    assert batch["boxes"] == [[[0, 0, 1, 1]], [[0, 0, 1, 1], [2, 2, 1, 1]]]


def test_heatmaps_are_in_original_pixels_and_peak_on_the_box():
    """A non-square image letterboxed onto a 32 px canvas (4 × 4 patches): the hot patch maps back onto the box."""
    original, canvas = (48, 24), 32
    letterbox = Letterbox(original, canvas)
    box = [12, 24, 12, 12]  # x, y, w, h in original pixels: the lower right quarter of the content
    similarity = torch.zeros(1, 4, 4)
    x, y, _, _ = letterbox.boxes_to_canvas([box])[0]
    similarity[0, int(y // 8), int(x // 8)] = 1.0
    image = MetaTensor(torch.zeros(1, 1, canvas, canvas), meta={"spatial_shape": torch.tensor([original])})
    out = GroundingHeatmaps(sigma=0.5)({"image": image, "pred": similarity, "boxes": [[box]]})
    (heatmap,), (truth,) = out["heatmap"], out["truth"]
    assert heatmap.shape == truth.shape == original
    assert heatmap.min() >= -1 and heatmap.max() <= 1
    peak = divmod(int(heatmap.argmax()), original[1])
    assert truth[peak] and heatmap[truth].mean() > heatmap[~truth].mean()
