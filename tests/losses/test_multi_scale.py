from __future__ import annotations

import pytest
import torch

from msfm.losses import LOSS_TERMS, MultiScaleLoss
from tests.networks.tiny import tiny_msfm_net


def tiny_net(with_reconstruction=True):
    return tiny_msfm_net(with_reconstruction=with_reconstruction)


def batch(size=4, length=10):
    ids = torch.randint(5, 40, (size, length))
    ids[:, 0], ids[:, -1] = 2, 3
    sentence_index = torch.full((size, length), -1)
    sentence_index[:, 1:5], sentence_index[:, 5:9] = 0, 1
    return torch.randn(size, 1, 32, 32), ids, torch.ones_like(ids), sentence_index


def test_total_is_the_weighted_sum_and_terms_are_logged():
    net = tiny_net()
    weights = {"global_weight": 1.0, "local_weight": 0.5, "instance_weight": 2.0, "modality_weight": 0.25}
    loss_fn = MultiScaleLoss(net.itm_head, **weights)
    total = loss_fn(net(*batch()))
    terms = loss_fn.last_terms
    assert set(terms) == set(LOSS_TERMS) | {"total"}
    expected = (
        terms["global"]
        + 0.5 * terms["local"]
        + 2.0 * terms["instance"]
        + 0.25 * (terms["modality_image"] + terms["modality_text"])
    )
    assert total.item() == pytest.approx(expected.item(), rel=1e-6)


def test_gradients_reach_both_encoders_and_the_heads():
    net = tiny_net()
    loss_fn = MultiScaleLoss(net.itm_head)
    loss_fn(net(*batch())).backward()
    for module in (
        net.image_encoder.vit,
        net.image_encoder.decoder,
        net.text_encoder.bert.bert,
        net.image_proj,
        net.text_proj,
        net.region_proj,
        net.sentence_proj,
        net.itm_head,
    ):
        grads = [p.grad for p in module.parameters() if p.requires_grad]
        assert any(g is not None and g.abs().sum() > 0 for g in grads), type(module).__name__
    assert loss_fn.global_loss.log_logit_scale.grad is not None


@pytest.mark.parametrize("off", ["global", "local", "instance", "modality"])
def test_zero_weight_switches_a_term_off(off, monkeypatch):
    net = tiny_net(with_reconstruction=off != "modality")
    loss_fn = MultiScaleLoss(net.itm_head, **{f"{off}_weight": 0.0})
    sub_loss = {
        "global": "global_loss",
        "local": "local_loss",
        "instance": "instance_loss",
        "modality": "modality_loss",
    }[off]

    def fail(*args, **kwargs):
        raise AssertionError(f"{off} was computed")

    for method in ("forward", "masked_image_loss", "masked_language_loss"):
        if hasattr(getattr(loss_fn, sub_loss), method):
            monkeypatch.setattr(getattr(loss_fn, sub_loss), method, fail)
    outputs = net(*batch())
    assert ("mae_pred" in outputs) == (off != "modality")
    loss_fn(outputs)
    assert not any(name.startswith(off) for name in loss_fn.last_terms)


def test_configuration_errors():
    with pytest.raises(ValueError, match="all loss weights are 0"):
        MultiScaleLoss(None, 0.0, 0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="match_head"):
        MultiScaleLoss(None)
    net = tiny_net(with_reconstruction=False)
    with pytest.raises(KeyError, match="reconstruction"):
        MultiScaleLoss(net.itm_head)(net(*batch()))
