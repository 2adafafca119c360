from __future__ import annotations

import pytest
import torch

from msfm.optimizers import decay_param_groups, encoder_param_groups, epoch_warmup_cosine


def test_warmup_and_length_are_counted_in_epochs():
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    schedule = epoch_warmup_cosine(optimizer, warmup_epochs=1, max_epochs=4, steps_per_epoch=list(range(5)))
    assert (schedule.warmup_steps, schedule.t_total) == (5, 20)
    rates = []
    for _ in range(20):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    assert rates[0] < rates[4] and max(rates) == pytest.approx(rates[5], rel=1e-6) and rates[-1] < 0.05
    with pytest.raises(ValueError, match="yields no batch"):
        epoch_warmup_cosine(optimizer, 1, 4, steps_per_epoch=[])
    with pytest.raises(ValueError, match="must be positive, got 0"):
        epoch_warmup_cosine(optimizer, 1, 4, steps_per_epoch=0)


def test_a_set_epoch_length_counts_instead_of_the_loader():
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    schedule = epoch_warmup_cosine(optimizer, 1, 4, steps_per_epoch=list(range(5)), epoch_length=3)
    assert (schedule.warmup_steps, schedule.t_total) == (3, 12)


def test_encoder_param_groups_scale_the_encoder_rate():
    network = torch.nn.Module()
    network.vit, network.head = torch.nn.Linear(2, 2), torch.nn.Linear(2, 1)
    encoder, rest = encoder_param_groups(network, learning_rate=1e-3, encoder_lr_scale=0.1)
    assert encoder["lr"] == pytest.approx(1e-4) and "lr" not in rest
    assert {id(p) for p in encoder["params"]} == {id(p) for p in network.vit.parameters()}
    assert {id(p) for p in rest["params"]} == {id(p) for p in network.head.parameters()}
    with pytest.raises(AttributeError, match="no encoder submodule 'image_encoder'"):
        encoder_param_groups(network, 1e-3, encoder="image_encoder")


def test_decay_param_groups_spare_gains_biases_and_the_temperature():
    from tests.networks.tiny import tiny_msfm_net

    network = tiny_msfm_net()
    network.text_encoder.requires_grad_(False)
    decayed, spared = decay_param_groups(network)
    names = {id(p): n for n, p in network.named_parameters()}
    spared_names = {names[id(p)] for p in spared["params"]}
    assert spared["weight_decay"] == 0.0 and "weight_decay" not in decayed
    assert "log_logit_scale" in spared_names and "region_proj.bias" in spared_names
    assert "region_proj.weight" in {names[id(p)] for p in decayed["params"]}
    assert not any(n.startswith("text_encoder.") for n in spared_names)
    optimizer = torch.optim.AdamW(decay_param_groups(network), lr=1.0, weight_decay=0.5)
    assert [g["weight_decay"] for g in optimizer.param_groups] == [0.5, 0.0]
    trainable = sum(p.requires_grad for p in network.parameters())
    assert len(decayed["params"]) + len(spared["params"]) == trainable
