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
    loss = GlobalAlignmentLoss()(image, text, 1 / temperature)
    assert loss.item() == pytest.approx(naive_clip_loss(image, text, temperature), abs=1e-5)


def test_aligned_pairs_score_lower_than_shuffled():
    text = torch.randn(16, 32)
    image = text + 0.1 * torch.randn(16, 32)
    loss_fn = GlobalAlignmentLoss()
    assert loss_fn(image, text, 1 / 0.07) < loss_fn(image, text[torch.randperm(16)], 1 / 0.07)


def test_gradient_reaches_the_logit_scale():
    logit_scale = torch.tensor(1 / 0.07, requires_grad=True)
    GlobalAlignmentLoss()(torch.randn(4, 8), torch.randn(4, 8), logit_scale).backward()
    assert logit_scale.grad is not None and logit_scale.grad != 0
    assert list(GlobalAlignmentLoss().parameters()) == []  # stateless: the network owns the temperature


def test_bad_input():
    with pytest.raises(ValueError, match="expected two"):
        GlobalAlignmentLoss()(torch.randn(4, 8), torch.randn(3, 8), 1.0)
