"""bf16 autocast on the device a workflow runs on: the inferer, the ``amp: "auto"`` policy, and a training and
inference step of each downstream bundle under CPU autocast (the code paths of CUDA autocast) against fp32."""

from __future__ import annotations

import logging

import pytest
import torch
from monai.bundle import ConfigParser

from msfm import precision
from msfm.inferers import AutocastInferer
from tests.bundles.helpers import REPO_ROOT, WORKFLOW
from tests.deploy.fixtures import TINY


def test_outputs_are_float32_and_the_forward_pass_bf16():
    seen = []
    network = torch.nn.Linear(8, 3)
    network.register_forward_hook(lambda module, inputs, output: seen.append(output.dtype))
    inferer = AutocastInferer(device="cpu", amp=True)
    output = inferer(torch.randn(2, 8), lambda x: {"logits": network(x), "ids": torch.arange(2)})
    assert seen == [torch.bfloat16]
    assert output["logits"].dtype == torch.float32 and output["ids"].dtype == torch.int64
    assert AutocastInferer(device="cpu", amp=False)(torch.randn(2, 8), network).dtype == torch.float32


def test_auto_follows_the_cpu_flags_and_is_logged_once(monkeypatch, caplog):
    precision.resolve_amp.cache_clear()
    monkeypatch.setattr(precision, "_cpu_flags", lambda: frozenset({"avx2", "amx_bf16"}))
    with caplog.at_level(logging.INFO, logger="msfm.precision"):
        assert precision.resolve_amp("auto", "cpu") and precision.resolve_amp("auto", "cpu")
    assert caplog.text.count("bf16 autocast (amx_bf16)") == 1
    precision.resolve_amp.cache_clear()
    monkeypatch.setattr(precision, "_cpu_flags", lambda: frozenset({"avx2"}))
    assert not precision.resolve_amp("auto", "cpu") and precision.resolve_amp(True, "cpu")
    with pytest.raises(ValueError, match="'auto'"):
        precision.resolve_amp("bf16", "cpu")
    precision.resolve_amp.cache_clear()


BUNDLE_SETTINGS = {
    "msfm_cls": {"class_names": ["a", "b", "c"]},
    "msfm_seg": {"network_def#feature_size": 8},
}


@pytest.mark.parametrize("bundle", BUNDLE_SETTINGS)
def test_a_bf16_step_of_each_downstream_bundle_matches_fp32(bundle):
    """The bundle's network, loss and inferer on one batch: the loss within 5 % and the predictions within 0.05
    (after the bundle's activation) of fp32, and finite gradients."""
    bundles = REPO_ROOT / "bundles"
    files = [str(WORKFLOW), str(bundles / bundle / "configs" / "inference.json"), str(bundles / bundle / "configs" / "train.json")]
    generator = torch.Generator().manual_seed(0)
    images = torch.randn(4, 1, 32, 32, generator=generator)
    labels = (torch.rand(4, 3, generator=generator) > 0.5).float() if bundle == "msfm_cls" else None
    results = {}
    for amp in (False, True):
        parser = ConfigParser()
        parser.read_config(files)
        parser.update({**TINY, **BUNDLE_SETTINGS[bundle], "amp": amp, "device": "cpu", "pretrained_checkpoint": None})
        torch.manual_seed(0)
        network = parser.get_parsed_content("network_def")
        inferer, loss_function = parser.get_parsed_content("inferer"), parser.get_parsed_content("loss")
        if labels is None:
            labels = (images[:, :1] > 0.5).float()
        logits = inferer(images, network.train())
        loss = loss_function(logits, labels)
        loss.backward()
        assert all(torch.isfinite(p.grad).all() for p in network.parameters() if p.grad is not None)
        results[amp] = (float(loss), torch.sigmoid(logits.detach()))
    assert results[True][0] != results[False][0]  # bf16 did run
    assert results[True][0] == pytest.approx(results[False][0], rel=0.05)
    assert torch.allclose(results[True][1], results[False][1], atol=0.05)
