from __future__ import annotations

import math

import pytest
import torch

from msfm.losses import GlobalAlignmentLoss


def naive_clip_loss(image: torch.Tensor, text: torch.Tensor, temperature: float) -> float:
    image, text = image.double(), text.double()
    n = image.shape[0]
    sims = [
        [float(torch.dot(image[i], text[k]) / (image[i].norm() * text[k].norm())) for k in range(n)] for i in range(n)
    ]
    total = 0.0
    for i in range(n):
        row = [sims[i][k] / temperature for k in range(n)]
        col = [sims[k][i] / temperature for k in range(n)]
        total += -row[i] + math.log(sum(math.exp(x) for x in row))
        total += -col[i] + math.log(sum(math.exp(x) for x in col))
    return total / (2 * n)


@pytest.mark.parametrize("batch,dim,temperature", [(2, 4, 0.07), (7, 16, 0.5), (16, 8, 1.0)])
def test_matches_loop_reference(batch, dim, temperature):
    image, text = torch.randn(batch, dim), torch.randn(batch, dim)
    loss = GlobalAlignmentLoss(temperature=temperature)(image, text)
    assert loss.item() == pytest.approx(naive_clip_loss(image, text, temperature), abs=1e-5)


def test_aligned_pairs_score_lower_than_shuffled():
    text = torch.randn(16, 32)
    image = text + 0.1 * torch.randn(16, 32)
    loss_fn = GlobalAlignmentLoss()
    assert loss_fn(image, text) < loss_fn(image, text[torch.randperm(16)])


def test_temperature_learnable_or_fixed():
    learnable = GlobalAlignmentLoss(temperature=0.07, learnable=True)
    fixed = GlobalAlignmentLoss(temperature=0.07, learnable=False)
    assert [n for n, _ in learnable.named_parameters()] == ["log_logit_scale"]
    assert list(fixed.parameters()) == []
    assert learnable.logit_scale.item() == pytest.approx(1 / 0.07, rel=1e-5)
    learnable(torch.randn(4, 8), torch.randn(4, 8)).backward()
    assert learnable.log_logit_scale.grad is not None


def test_bad_input():
    with pytest.raises(ValueError, match="expected two"):
        GlobalAlignmentLoss()(torch.randn(4, 8), torch.randn(3, 8))
    with pytest.raises(ValueError, match="temperature"):
        GlobalAlignmentLoss(temperature=0.0)
