from __future__ import annotations

import math

import pytest
import torch

from msfm.losses import ModalityReconstructionLoss


def naive_mae(pred, target, mask, eps=1e-6):
    pred, target = pred.double(), target.double()
    total, count = 0.0, 0
    for b in range(pred.shape[0]):
        for r in range(pred.shape[1]):
            if mask[b, r] == 0:
                continue
            patch = target[b, r]
            mean = float(patch.mean())
            var = float(((patch - mean) ** 2).mean())
            normalised = [(float(x) - mean) / math.sqrt(var + eps) for x in patch]
            total += sum((float(p) - x) ** 2 for p, x in zip(pred[b, r], normalised)) / len(normalised)
            count += 1
    return total / count


def naive_mlm(logits, labels, ignore_index=-100):
    logits = logits.double()
    total, count = 0.0, 0
    for b in range(labels.shape[0]):
        for position in range(labels.shape[1]):
            label = int(labels[b, position])
            if label == ignore_index:
                continue
            row = logits[b, position]
            total += -float(row[label]) + math.log(sum(math.exp(float(x)) for x in row))
            count += 1
    return total / count


@pytest.mark.parametrize("batch,regions,patch_dim", [(2, 4, 16), (3, 9, 12)])
def test_mae_matches_loop_reference(batch, regions, patch_dim):
    pred, target = torch.randn(batch, regions, patch_dim), torch.rand(batch, regions, patch_dim)
    mask = (torch.rand(batch, regions) > 0.5).float()
    mask[0, 0] = 1
    loss = ModalityReconstructionLoss().masked_image_loss(pred, target, mask)
    assert loss.item() == pytest.approx(naive_mae(pred, target, mask), abs=1e-5)


@pytest.mark.parametrize("batch,length,vocab", [(2, 5, 7), (3, 11, 30)])
def test_mlm_matches_loop_reference_and_ignores_padding(batch, length, vocab):
    logits = torch.randn(batch, length, vocab)
    labels = torch.randint(0, vocab, (batch, length))
    labels[torch.rand(batch, length) > 0.3] = -100
    labels[0, 0] = 3
    loss_fn = ModalityReconstructionLoss()
    loss = loss_fn.masked_language_loss(logits, labels)
    assert loss.item() == pytest.approx(naive_mlm(logits, labels), abs=1e-5)
    # logits at unlabelled (e.g. padding) positions change nothing
    perturbed = logits.clone()
    perturbed[labels == -100] = 50 * torch.randn(int((labels == -100).sum()), vocab)
    assert loss_fn.masked_language_loss(perturbed, labels).item() == pytest.approx(loss.item(), abs=1e-6)
    # the masked positions alone, as the text encoder returns them, give the same loss
    picked = labels != -100
    assert loss_fn.masked_language_loss(logits[picked], labels[picked]).item() == pytest.approx(loss.item(), abs=1e-6)


def test_mae_ignores_visible_patches_and_sum():
    pred, target = torch.randn(2, 6, 8), torch.rand(2, 6, 8)
    mask = torch.tensor([[1, 0, 1, 0, 0, 0], [0, 0, 0, 1, 1, 0]], dtype=torch.float)
    loss_fn = ModalityReconstructionLoss()
    reference = loss_fn.masked_image_loss(pred, target, mask)
    perturbed = pred.clone()
    perturbed[mask == 0] += 10
    assert loss_fn.masked_image_loss(perturbed, target, mask).item() == pytest.approx(reference.item(), abs=1e-6)
    labels = torch.full((2, 3), -100)
    labels[0, 1] = 2
    logits = torch.randn(2, 3, 5)
    total = loss_fn(pred, target, mask, logits, labels)
    expected = reference + loss_fn.masked_language_loss(logits, labels)
    assert total.item() == pytest.approx(expected.item(), abs=1e-6)


def test_no_masked_token_gives_zero_not_nan():
    loss = ModalityReconstructionLoss().masked_language_loss(torch.randn(2, 3, 5), torch.full((2, 3), -100))
    assert loss.item() == 0.0
