from __future__ import annotations

import math

import pytest
import torch

from msfm.losses import LocalAlignmentLoss, local_alignment_scores


def naive_scores(regions, sentences, mask, gamma1, gamma2):
    """Z(i, k) by the equation, one image-report pair and one sentence at a time, in float64."""
    regions, sentences = regions.double(), sentences.double()
    images, reports = regions.shape[0], sentences.shape[0]
    scores = torch.zeros(images, reports, dtype=torch.float64)
    for i in range(images):
        for k in range(reports):
            total = 0.0
            for j in range(sentences.shape[1]):
                if not mask[k, j]:
                    continue
                t = sentences[k, j]
                cos_tv = [float(torch.dot(t, v) / (t.norm() * v.norm())) for v in regions[i]]
                weights = [math.exp(gamma1 * c) for c in cos_tv]
                attn = [w / sum(weights) for w in weights]
                context = sum(a * v for a, v in zip(attn, regions[i]))
                cos_ct = float(torch.dot(context, t) / (context.norm() * t.norm()))
                total += math.exp(gamma2 * cos_ct)
            scores[i, k] = math.log(total) / gamma2
    return scores


def naive_loss(scores, temperature):
    n = scores.shape[0]
    logits = scores / temperature
    total = 0.0
    for i in range(n):
        total += -logits[i, i] + torch.logsumexp(logits[i], 0)
        total += -logits[i, i] + torch.logsumexp(logits[:, i], 0)
    return float(total) / (2 * n)


def random_case(batch, regions, sentences, dim):
    mask = torch.rand(batch, sentences) > 0.4
    mask[:, 0] = True
    return torch.randn(batch, regions, dim), torch.randn(batch, sentences, dim), mask


@pytest.mark.parametrize(
    "batch,regions,sentences,dim,gamma1,gamma2,temperature",
    [(2, 4, 3, 8, 4.0, 5.0, 0.1), (5, 9, 4, 6, 4.0, 5.0, 0.1), (3, 16, 2, 32, 1.0, 2.0, 0.5)],
)
def test_matches_loop_reference(batch, regions, sentences, dim, gamma1, gamma2, temperature):
    region_emb, sentence_emb, mask = random_case(batch, regions, sentences, dim)
    expected = naive_scores(region_emb, sentence_emb, mask, gamma1, gamma2)
    scores = local_alignment_scores(region_emb, sentence_emb, mask, gamma1, gamma2)
    assert torch.allclose(scores.double(), expected, atol=1e-5)
    loss = LocalAlignmentLoss(gamma1, gamma2, temperature)(region_emb, sentence_emb, mask)
    assert loss.item() == pytest.approx(naive_loss(expected, temperature), abs=1e-5)


def test_padding_changes_nothing():
    region_emb, sentence_emb, mask = random_case(4, 6, 3, 8)
    loss_fn = LocalAlignmentLoss()
    reference = loss_fn(region_emb, sentence_emb, mask)
    padded_emb = torch.cat([sentence_emb, 100 * torch.randn(4, 5, 8)], dim=1)
    padded_mask = torch.cat([mask, torch.zeros(4, 5, dtype=torch.bool)], dim=1)
    assert loss_fn(region_emb, padded_emb, padded_mask).item() == pytest.approx(reference.item(), abs=1e-6)
    # the content of padded slots is ignored, whatever it is
    padded_emb[:, 3:] = torch.randn(4, 5, 8)
    assert loss_fn(region_emb, padded_emb, padded_mask).item() == pytest.approx(reference.item(), abs=1e-6)


def test_aligned_pairs_score_lower_than_shuffled():
    batch, dim = 8, 16
    sentence_emb = torch.randn(batch, 3, dim)
    mask = torch.ones(batch, 3, dtype=torch.bool)
    # each image's regions contain its report's sentences plus clutter
    region_emb = torch.cat([sentence_emb, torch.randn(batch, 5, dim)], dim=1)
    loss_fn = LocalAlignmentLoss()
    shuffled = torch.randperm(batch)
    assert loss_fn(region_emb, sentence_emb, mask) < loss_fn(region_emb, sentence_emb[shuffled], mask[shuffled])


def test_report_without_sentence_is_an_error():
    region_emb, sentence_emb, mask = random_case(3, 4, 2, 8)
    mask[1] = False
    with pytest.raises(ValueError, match="at least one real sentence"):
        LocalAlignmentLoss()(region_emb, sentence_emb, mask)


def test_gradients_match_autograd_numerics():
    region_emb, sentence_emb, mask = random_case(3, 4, 3, 5)
    inputs = (region_emb.double().requires_grad_(), sentence_emb.double().requires_grad_())
    assert torch.autograd.gradcheck(lambda r, s: local_alignment_scores(r, s, mask), inputs)
