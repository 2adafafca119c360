"""Hard-negative drawing for image-text matching."""

from __future__ import annotations

import torch

from msfm.networks import HardNegativeSampler, report_duplicate_mask


def inputs(batch, dim=8, length=6, vocab=20):
    tokens = torch.randint(1, vocab, (batch, length))
    return torch.randn(batch, dim), torch.randn(batch, dim), tokens


def excluded_pairs(tokens, threshold):
    batch = tokens.shape[0]
    return torch.eye(batch, dtype=torch.bool) | report_duplicate_mask(tokens, tokens, threshold)


def test_identical_reports_are_never_negatives():
    batch = 8
    _, _, tokens = inputs(batch)
    tokens[1] = tokens[0]
    tokens[5] = tokens[3].flip(0)  # same words, another order
    excluded = excluded_pairs(tokens, threshold=1.0)
    sampler = HardNegativeSampler(seed=0)
    similarity = torch.zeros(batch, batch)
    similarity[0, 1] = similarity[1, 0] = similarity[3, 5] = similarity[5, 3] = 10.0  # the most tempting ones
    for _ in range(200):
        index, valid = sampler.sample_negatives(similarity, excluded)
        assert valid.all()
        assert not excluded[torch.arange(batch), index].any()


def test_sampling_follows_softmax_with_floor():
    sampler = HardNegativeSampler(temperature=1.0, floor=1e-4, seed=0)
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
    first = HardNegativeSampler(seed=7).sample_negatives(similarity, excluded)[0]
    second = HardNegativeSampler(seed=7).sample_negatives(similarity, excluded)[0]
    assert torch.equal(first, second)


def test_near_duplicates():
    tokens = torch.tensor(
        [
            [5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 0, 0],
            [5, 6, 7, 8, 9, 10, 11, 12, 13, 15, 0, 0],  # one word differs out of ten
            [20, 21, 22, 23, 7, 8, 0, 0, 0, 0, 0, 0],
        ]
    )
    mask = tokens != 0  # the attention mask: padding does not count
    near = report_duplicate_mask(tokens, tokens, 0.85, mask, mask)
    exact = report_duplicate_mask(tokens, tokens, 1.0, mask, mask)
    padded = torch.cat([tokens[:1], torch.zeros(1, 4, dtype=torch.long)], dim=1)  # the same words, longer padding
    assert report_duplicate_mask(tokens[:1, :10], padded, 1.0, mask[:1, :10], padded != 0).item()
    assert near[0, 1] and near[1, 0] and not near[0, 2]
    assert not exact[0, 1] and exact.diagonal().all()
