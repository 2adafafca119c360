from __future__ import annotations

import pytest
import torch

from msfm.losses import LOSS_TERMS, MultiScaleLoss
from tests.networks.tiny import tiny_msfm_net


def batch(size=4, length=10):
    ids = torch.randint(5, 40, (size, length))
    ids[:, 0], ids[:, -1] = 2, 3
    sentence_index = torch.full((size, length), -1)
    sentence_index[:, 1:5], sentence_index[:, 5:9] = 0, 1
    return torch.randn(size, 1, 32, 32), ids, torch.ones_like(ids), sentence_index


def training_outputs(net, loss_fn):
    """The network's outputs as the workflow asks for them."""
    return net.train()(
        *batch(), reconstruction=loss_fn.needs_reconstruction, matching=loss_fn.needs_matching
    )


def test_total_is_the_weighted_sum_of_the_returned_terms():
    net = tiny_msfm_net()
    weights = {"global_weight": 1.0, "local_weight": 0.5, "instance_weight": 2.0, "modality_weight": 0.25}
    loss_fn = MultiScaleLoss(**weights)
    terms = loss_fn(training_outputs(net, loss_fn))
    assert set(terms) == set(LOSS_TERMS) | {"total"}
    expected = (
        terms["global"]
        + 0.5 * terms["local"]
        + 2.0 * terms["instance"]
        + 0.25 * (terms["modality_image"] + terms["modality_text"])
    )
    assert terms["total"].item() == pytest.approx(expected.item(), rel=1e-6)


def test_the_loss_is_stateless_and_gradients_reach_every_network_part():
    net = tiny_msfm_net()
    loss_fn = MultiScaleLoss()
    assert list(loss_fn.parameters()) == [] and list(loss_fn.buffers()) == []
    loss_fn(training_outputs(net, loss_fn))["total"].backward()
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
    assert net.log_logit_scale.grad is not None


@pytest.mark.parametrize("off", ["global", "local", "instance", "modality"])
def test_zero_weight_switches_a_term_off(off, monkeypatch):
    net = tiny_msfm_net()
    loss_fn = MultiScaleLoss(**{f"{off}_weight": 0.0})
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
    outputs = training_outputs(net, loss_fn)
    assert ("mae_pred" in outputs) == (off != "modality")
    assert ("itm_logits" in outputs) == (off != "instance")
    terms = loss_fn(outputs)
    assert not any(name.startswith(off) for name in terms)


def test_configuration_errors():
    with pytest.raises(ValueError, match="all loss weights are 0"):
        MultiScaleLoss(0.0, 0.0, 0.0, 0.0)
    net = tiny_msfm_net().train()
    with pytest.raises(KeyError, match="reconstruction"):
        MultiScaleLoss(instance_weight=0.0)(net(*batch()))
    with pytest.raises(KeyError, match="matching"):
        MultiScaleLoss(modality_weight=0.0)(net(*batch()))
