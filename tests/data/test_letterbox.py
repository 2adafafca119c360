from __future__ import annotations

import pytest
import torch
from monai.transforms import Compose, Resized, SpatialPadd

from msfm.data import Letterbox
from msfm.metrics import boxes_to_mask, grounding_heatmap, grounding_iou

BOX = [20.0, 8.0, 30.0, 20.0]  # [x, y, w, h] in original pixels


def _letterboxed(image: torch.Tensor, size: int) -> torch.Tensor:
    """The bundles' preprocessing geometry."""
    transform = Compose(
        [Resized("image", spatial_size=size, size_mode="longest", mode="area"), SpatialPadd("image", (size, size))]
    )
    return transform({"image": image[None]})["image"][0].as_tensor()


@pytest.mark.parametrize("original", [(60, 100), (100, 60), (77, 77), (61, 99)])
def test_geometry_matches_monai_preprocessing(original):
    lb = Letterbox(original, 64)
    image = torch.zeros(original)
    x, y, w, h = BOX
    image[int(y) : int(y + h), int(x) : int(x + w)] = 1.0
    canvas = _letterboxed(image, 64)
    rows, cols = torch.nonzero(canvas > 0.5, as_tuple=True)
    cx, cy, cw, ch = lb.boxes_to_canvas([BOX])[0]
    assert abs(cols.min() - cx) <= 1 and abs(rows.min() - cy) <= 1
    assert abs(cols.max() + 1 - (cx + cw)) <= 1 and abs(rows.max() + 1 - (cy + ch)) <= 1
    restored = lb.canvas_to_original(canvas)
    assert restored.shape == original
    assert (restored[boxes_to_mask([BOX], original)] > 0.4).float().mean() > 0.9


@pytest.mark.parametrize("original", [(60, 100), (100, 60)])
def test_phrase_map_lines_up_with_its_box(original):
    """A patch-level map that is high over the box, computed on the letterboxed image, comes back onto the box in
    original pixels; read without undoing the padding, it misses (so the test can fail)."""
    image = torch.zeros(original)
    x, y, w, h = map(int, BOX)
    image[y : y + h, x : x + w] = 1.0
    canvas = _letterboxed(image, 64)
    similarity = torch.nn.functional.avg_pool2d(canvas[None, None], 4)[0, 0]  # 16 × 16 patch grid
    truth = boxes_to_mask([BOX], original)
    heatmap = grounding_heatmap(similarity, sigma=0.0, letterbox=Letterbox(original, 64))
    assert heatmap.shape == original
    aligned = float(torch.nanmean(grounding_iou(heatmap, truth)))
    naive = float(torch.nanmean(grounding_iou(grounding_heatmap(similarity, size=original, sigma=0.0), truth)))
    assert aligned > 0.6 and naive < aligned - 0.2, (aligned, naive)
