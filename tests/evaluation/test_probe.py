from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from msfm.evaluation import FrozenFeatureProbe, pooled_features


class PatchTokens(nn.Module):
    """A stand-in ViT: each 4×4 patch of a 2D image becomes one token of its 16 pixels."""

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, list]:
        patches = images.unfold(2, 4, 4).unfold(3, 4, 4)  # [B, C, H/4, W/4, 4, 4]
        return patches.flatten(4).flatten(1, 3), []


def _loader(n: int, size: int, seed: int) -> list[dict]:
    """Images with a bright spot somewhere (class 0 present) or not; class 1 is a coin toss unrelated to pixels."""
    rng = np.random.default_rng(seed)
    images = rng.normal(0, 0.1, (n, 1, size, size)).astype(np.float32)
    spot = rng.random(n) < 0.4
    for i in np.flatnonzero(spot):
        row, col = rng.integers(0, size - 2, 2)
        images[i, 0, row : row + 2, col : col + 2] += 3.0
    labels = np.stack([spot, rng.random(n) < 0.5], axis=1).astype(np.float32)
    return [{"image": torch.from_numpy(images[i : i + 8]), "label": torch.from_numpy(labels[i : i + 8])} for i in range(0, n, 8)]


@pytest.mark.parametrize("size", [16, 24])
def test_pooled_features_are_token_mean_and_max(size):
    loader = _loader(16, size, seed=0)
    features, labels = pooled_features(PatchTokens(), loader)
    tokens, _ = PatchTokens()(loader[0]["image"])
    assert features.shape == (16, 32) and labels.shape == (16, 2)
    np.testing.assert_allclose(features[:8, :16], tokens.mean(1).numpy(), atol=1e-6)
    np.testing.assert_allclose(features[:8, 16:], tokens.amax(1).numpy(), atol=1e-6)


@pytest.mark.parametrize("size", [16, 24])
def test_probe_finds_what_the_features_hold_and_nothing_else(size, tmp_path):
    probe = FrozenFeatureProbe(
        PatchTokens(), _loader(160, size, seed=1), _loader(160, size, seed=2), ["spot", "coin"], tmp_path,
        extra={"run": "t"},
    )
    result = probe()
    assert result["probe_per_class_auc"]["spot"] > 0.97  # the bright spot is in the pooled tokens
    assert abs(result["probe_per_class_auc"]["coin"] - 0.5) < 0.15  # labels unrelated to the pixels stay at chance
    assert result["probe_mean_auc"] == pytest.approx(np.mean(list(result["probe_per_class_auc"].values())))
    assert json.loads((tmp_path / "probe_metrics.json").read_text()) == result
    assert result["run"] == "t" and result["num_train"] == result["num_test"] == 160


def test_single_valued_class_is_named(tmp_path):
    loader = _loader(16, 16, seed=0)
    for batch in loader:
        batch["label"][:, 1] = 0
    with pytest.raises(ValueError, match=r"training split; \['coin'\]"):
        FrozenFeatureProbe(PatchTokens(), loader, loader, ["spot", "coin"], tmp_path)()
