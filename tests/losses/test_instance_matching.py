"""Image-text matching loss over the pairs that the network's sampler draws and its head scores."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from msfm.losses import InstanceMatchingLoss
from msfm.networks import HardNegativeSampler, ImageTextMatchingHead
from tests.networks.test_matching import excluded_pairs, inputs


def itm_loss(sampler, head, image, text, tokens=None):
    """The network's matching path (draw, score) followed by the loss."""
    pairs = sampler(image, text, tokens)
    return InstanceMatchingLoss()(head(pairs.images, pairs.texts), pairs.targets, pairs.weights)


@pytest.mark.parametrize("batch,dim", [(4, 8), (9, 16)])
def test_matches_loop_reference(batch, dim):
    image, text, tokens = inputs(batch, dim)
    head = ImageTextMatchingHead(dim, 16)
    loss = itm_loss(HardNegativeSampler(seed=3), head, image, text, tokens)

    # the same draws, replayed with a fresh generator of the same seed
    sampler = HardNegativeSampler(seed=3)
    excluded = excluded_pairs(tokens, sampler.duplicate_threshold)
    unit_image, unit_text = F.normalize(image, dim=-1), F.normalize(text, dim=-1)
    negative_text, text_valid = sampler.sample_negatives(unit_image @ unit_text.t(), excluded)
    negative_image, image_valid = sampler.sample_negatives(unit_text @ unit_image.t(), excluded)

    head64 = head.double()
    pairs = [(i, i, 1.0) for i in range(batch)]
    pairs += [(i, int(negative_text[i]), 0.0) for i in range(batch) if text_valid[i]]
    pairs += [(int(negative_image[j]), j, 0.0) for j in range(batch) if image_valid[j]]
    total = 0.0
    for i, k, label in pairs:
        logit = float(head64(image[i : i + 1].double(), text[k : k + 1].double()))
        probability = 1 / (1 + math.exp(-logit))
        total += -(label * math.log(probability) + (1 - label) * math.log(1 - probability))
    assert loss.item() == pytest.approx(total / len(pairs), abs=1e-5)


def test_row_without_admissible_negative_drops_it():
    image, text, tokens = inputs(3)
    tokens[:] = tokens[0]  # every report identical: no negative anywhere
    head = ImageTextMatchingHead(8, 16)
    loss = itm_loss(HardNegativeSampler(), head, image, text, tokens)
    logits = head(image, text)
    expected = F.binary_cross_entropy_with_logits(logits, torch.ones(3))
    assert loss.item() == pytest.approx(expected.item(), abs=1e-6)


def test_matching_pairs_score_lower_than_shuffled_after_fitting():
    """A head that has learned to match scores aligned batches lower than shuffled ones."""
    torch.manual_seed(0)
    dim = 8
    head = ImageTextMatchingHead(dim, 32)
    optimizer = torch.optim.Adam(head.parameters(), lr=1e-2)
    sampler = HardNegativeSampler(seed=0)
    for _ in range(150):
        text = torch.randn(16, dim)
        loss = itm_loss(sampler, head, text + 0.05 * torch.randn(16, dim), text)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    text = torch.randn(16, dim)
    image = text + 0.05 * torch.randn(16, dim)
    with torch.no_grad():
        aligned = F.binary_cross_entropy_with_logits(head(image, text), torch.ones(16))
        shuffled = F.binary_cross_entropy_with_logits(head(image, text[torch.randperm(16)]), torch.ones(16))
    assert aligned < shuffled
