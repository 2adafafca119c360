"""Reading msfm checkpoints, including those written by msfm 0.2 (temperature kept in the loss)."""

from __future__ import annotations

import logging

import pytest
import torch

from msfm.networks import load_network_weights, read_network_state
from tests.networks.tiny import tiny_msfm_net


def legacy_training_checkpoint(net):
    """msfm 0.2: the network without its temperature, the loss holding it and a copy of the matching head."""
    network = {k: v for k, v in net.state_dict().items() if k != "log_logit_scale"}
    loss = {"global_loss.log_logit_scale": torch.tensor(3.0)}
    loss |= {f"match_head.{k}": v for k, v in net.itm_head.state_dict().items()}
    return {"network": network, "loss": loss, "optimizer": {}}


@pytest.mark.parametrize("wrap", ["model", "network", None])
def test_reads_model_training_and_bare_checkpoints(tmp_path, wrap):
    net = tiny_msfm_net()
    state = net.state_dict()
    torch.save({wrap: state} if wrap else state, tmp_path / "ckpt.pt")
    read = read_network_state(tmp_path / "ckpt.pt")
    assert read.keys() == state.keys() and all(torch.equal(read[k], state[k]) for k in state)


def test_a_legacy_training_checkpoint_gets_its_temperature_back(tmp_path):
    torch.save(legacy_training_checkpoint(tiny_msfm_net()), tmp_path / "checkpoint_10.pt")
    fresh = load_network_weights(tiny_msfm_net(), tmp_path / "checkpoint_10.pt")
    assert fresh.log_logit_scale.item() == pytest.approx(3.0)


def test_a_legacy_model_keeps_the_initial_temperature_with_a_warning(tmp_path, caplog):
    trained = tiny_msfm_net()
    torch.nn.init.constant_(trained.itm_head.fc2.bias, 0.5)
    torch.save({"model": {k: v for k, v in trained.state_dict().items() if k != "log_logit_scale"}}, tmp_path / "m.pt")
    with caplog.at_level(logging.WARNING):
        loaded = load_network_weights(tiny_msfm_net(temperature=0.1), tmp_path / "m.pt")
    assert "no temperature" in caplog.text
    assert loaded.logit_scale.item() == pytest.approx(10.0)
    assert torch.equal(loaded.itm_head.fc2.bias, trained.itm_head.fc2.bias)


def test_optional_parts_may_be_left_out_and_misfits_name_the_file(tmp_path):
    net = tiny_msfm_net()
    without_decoder = {k: v for k, v in net.state_dict().items() if not k.startswith("image_encoder.decoder.")}
    torch.save({"model": without_decoder}, tmp_path / "no_decoder.pt")
    load_network_weights(tiny_msfm_net(), tmp_path / "no_decoder.pt", optional_prefixes=("image_encoder.decoder.",))
    with pytest.raises(ValueError, match="no_decoder.pt does not fit.*missing"):
        load_network_weights(tiny_msfm_net(), tmp_path / "no_decoder.pt")
    with pytest.raises(ValueError, match="no_decoder.pt does not fit"):
        load_network_weights(tiny_msfm_net(embed_dim=8), tmp_path / "no_decoder.pt", ("image_encoder.decoder.",))
    with pytest.raises(FileNotFoundError, match="absent.pt"):
        load_network_weights(tiny_msfm_net(), tmp_path / "absent.pt")
    assert load_network_weights(net, None) is net


def test_checkpoint_from_before_position_centring_loads_with_a_zero_position_mean(tmp_path, caplog):
    older = tiny_msfm_net()
    torch.save({"model": older.state_dict()}, tmp_path / "m.pt")
    newer = tiny_msfm_net(center_positions=True)
    with caplog.at_level("WARNING"):
        load_network_weights(newer, tmp_path / "m.pt")
    assert "per-position region mean" in caplog.text
    assert torch.equal(newer.region_position_mean, torch.zeros_like(newer.region_position_mean))
    assert torch.equal(newer.region_proj.weight, older.region_proj.weight)


def test_the_text_encoder_keeps_the_sentence_isolation_it_was_pretrained_with(tmp_path, caplog):
    isolated = tiny_msfm_net(isolate_sentences=True)
    torch.save({"model": isolated.state_dict()}, tmp_path / "isolated.pt")
    older = {k: v for k, v in tiny_msfm_net().state_dict().items() if k != "text_encoder.isolates_sentences"}
    torch.save({"model": older}, tmp_path / "before_0.9.pt")
    with caplog.at_level(logging.WARNING):
        loaded = load_network_weights(tiny_msfm_net(isolate_sentences=True), tmp_path / "isolated.pt")
    assert loaded.text_encoder.isolate_sentences and not caplog.text
    with caplog.at_level(logging.WARNING):
        older_loaded = load_network_weights(tiny_msfm_net(isolate_sentences=True), tmp_path / "before_0.9.pt")
    assert not older_loaded.text_encoder.isolate_sentences
    assert "before_0.9.pt was pretrained with isolate_sentences=False, the config sets True" in caplog.text
    assert load_network_weights(tiny_msfm_net(), tmp_path / "isolated.pt").text_encoder.isolate_sentences


def test_the_text_encoder_keeps_the_report_pooling_it_was_pretrained_with(tmp_path, caplog):
    torch.save({"model": tiny_msfm_net(report_pooling="mean").state_dict()}, tmp_path / "mean.pt")
    older = {k: v for k, v in tiny_msfm_net().state_dict().items() if k != "text_encoder.pools_report_by_mean"}
    torch.save({"model": older}, tmp_path / "before_0.9.2.pt")
    with caplog.at_level(logging.WARNING):
        loaded = load_network_weights(tiny_msfm_net(), tmp_path / "mean.pt")
    assert loaded.text_encoder.report_pooling == "mean"
    assert "mean.pt was pretrained with report_pooling='mean', the config sets 'cls'" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        older_loaded = load_network_weights(tiny_msfm_net(report_pooling="mean"), tmp_path / "before_0.9.2.pt")
    assert older_loaded.text_encoder.report_pooling == "mean"
    assert "before_0.9.2.pt does not record its report_pooling: the config's 'mean' is used" in caplog.text
