from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from msfm.losses import InstanceMatchingLoss, report_duplicate_mask
from msfm.networks import ImageTextMatchingHead


def inputs(batch, dim=8, length=6, vocab=20):
    tokens = torch.randint(1, vocab, (batch, length))
    return torch.randn(batch, dim), torch.randn(batch, dim), tokens


def excluded_pairs(tokens, threshold):
    batch = tokens.shape[0]
    return torch.eye(batch, dtype=torch.bool) | report_duplicate_mask(tokens, tokens, threshold)


@pytest.mark.parametrize("batch,dim", [(4, 8), (9, 16)])
def test_matches_loop_reference(batch, dim):
    image, text, tokens = inputs(batch, dim)
    head = ImageTextMatchingHead(dim, 16)
    loss = InstanceMatchingLoss(seed=3)(image, text, head, tokens)

    # the same draws, replayed with a fresh generator of the same seed
    sampler = InstanceMatchingLoss(seed=3)
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


def test_identical_reports_are_never_negatives():
    batch = 8
    image, text, tokens = inputs(batch)
    tokens[1] = tokens[0]
    tokens[5] = tokens[3].flip(0)  # same words, another order
    excluded = excluded_pairs(tokens, threshold=1.0)
    sampler = InstanceMatchingLoss(seed=0)
    similarity = torch.zeros(batch, batch)
    similarity[0, 1] = similarity[1, 0] = similarity[3, 5] = similarity[5, 3] = 10.0  # the most tempting ones
    for _ in range(200):
        index, valid = sampler.sample_negatives(similarity, excluded)
        assert valid.all()
        assert not excluded[torch.arange(batch), index].any()


def test_sampling_follows_softmax_with_floor():
    sampler = InstanceMatchingLoss(temperature=1.0, floor=1e-4, seed=0)
    similarity = torch.tensor([[0.0, 2.0, 1.0, 0.0]]).repeat(4000, 1)
    excluded = torch.zeros_like(similarity, dtype=torch.bool)
    excluded[:, 0] = True
    index, _ = sampler.sample_negatives(similarity, excluded)
    counts = torch.bincount(index, minlength=4).double() / 4000
    weights = torch.softmax(similarity[0].double(), 0) + 1e-4
    weights[0] = 0
    expected = weights / weights.sum()
    assert counts[0] == 0
    assert torch.allclose(counts, expected, atol=0.03)


def test_seeded_generator_reproduces_draws():
    similarity, excluded = torch.randn(6, 6), torch.eye(6, dtype=torch.bool)
    first = InstanceMatchingLoss(seed=7).sample_negatives(similarity, excluded)[0]
    second = InstanceMatchingLoss(seed=7).sample_negatives(similarity, excluded)[0]
    assert torch.equal(first, second)


def test_row_without_admissible_negative_drops_it():
    image, text, tokens = inputs(3)
    tokens[:] = tokens[0]  # every report identical: no negative anywhere
    head = ImageTextMatchingHead(8, 16)
    loss = InstanceMatchingLoss()(image, text, head, tokens)
    logits = head(image, text)
    expected = F.binary_cross_entropy_with_logits(logits, torch.ones(3))
    assert loss.item() == pytest.approx(expected.item(), abs=1e-6)


def test_near_duplicates():
    tokens = torch.tensor(
        [
            [5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 0, 0],
            [5, 6, 7, 8, 9, 10, 11, 12, 13, 15, 0, 0],  # one word differs out of ten
            [20, 21, 22, 23, 7, 8, 0, 0, 0, 0, 0, 0],
        ]
    )
    near = report_duplicate_mask(tokens, tokens, threshold=0.85)
    exact = report_duplicate_mask(tokens, tokens, threshold=1.0)
    assert near[0, 1] and near[1, 0] and not near[0, 2]
    assert not exact[0, 1] and exact.diagonal().all()


def test_matching_pairs_score_lower_than_shuffled_after_fitting():
    """A head that has learned to match scores aligned batches lower than shuffled ones."""
    torch.manual_seed(0)
    dim = 8
    head = ImageTextMatchingHead(dim, 32)
    optimizer = torch.optim.Adam(head.parameters(), lr=1e-2)
    loss_fn = InstanceMatchingLoss(seed=0)
    for _ in range(150):
        text = torch.randn(16, dim)
        loss = loss_fn(text + 0.05 * torch.randn(16, dim), text, head)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    text = torch.randn(16, dim)
    image = text + 0.05 * torch.randn(16, dim)
    with torch.no_grad():
        aligned = F.binary_cross_entropy_with_logits(head(image, text), torch.ones(16))
        shuffled = F.binary_cross_entropy_with_logits(head(image, text[torch.randperm(16)]), torch.ones(16))
    assert aligned < shuffled
