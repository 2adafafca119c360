from __future__ import annotations

import pytest
import torch
from monai.optimizers import WarmupCosineSchedule

from msfm.engines import scaled_lr_parameter_groups, unique_parameters
from msfm.networks import ViTSegmentationNet

SEG_NET = {"img_size": 32, "feature_size": 4, "hidden_size": 24, "mlp_dim": 48, "num_layers": 4, "num_heads": 2}


@pytest.mark.parametrize("scale", [0.1, 1.0])
def test_encoder_group_trains_at_scaled_rate_and_the_rest_at_base_rate(scale):
    network = ViTSegmentationNet(**SEG_NET)
    groups = scaled_lr_parameter_groups(network, 1e-3, {"vit": scale})
    vit_ids = {id(p) for p in unique_parameters(network.vit)}
    assert [group["lr"] for group in groups] == pytest.approx([1e-3 * scale, 1e-3])
    assert {id(p) for p in groups[0]["params"]} == vit_ids
    assert not vit_ids & {id(p) for p in groups[1]["params"]}
    # every trainable parameter lands in exactly one group; frozen ones (unused ViT norms) in none
    assert sorted(id(p) for g in groups for p in g["params"]) == sorted(id(p) for p in unique_parameters(network))
    optimizer = torch.optim.AdamW(groups, lr=1e-3)
    scheduler = WarmupCosineSchedule(optimizer, warmup_steps=0, t_total=10)
    optimizer.step()
    scheduler.step()  # the schedule scales each group's own rate
    assert optimizer.param_groups[0]["lr"] / optimizer.param_groups[1]["lr"] == pytest.approx(scale)


def test_unknown_or_overlapping_submodules_are_named():
    network = ViTSegmentationNet(**SEG_NET)
    with pytest.raises(ValueError, match="'encoder'"):
        scaled_lr_parameter_groups(network, 1e-3, {"encoder": 0.1})
    with pytest.raises(ValueError, match="overlapping"):
        scaled_lr_parameter_groups(network, 1e-3, {"vit": 0.1, "vit.blocks": 0.5})
