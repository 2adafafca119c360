"""The pretraining workflow on a tiny network: terms in the output and metrics, lowest-best loss, and an optimizer
over the network's own parameters that trains the temperature and the matching head."""

from __future__ import annotations

import torch
from monai.engines import PrepareBatchExtraInput

from msfm.engines import MultiScaleTrainer
from msfm.losses import LOSS_TERMS, MultiScaleLoss
from tests.networks.tiny import tiny_msfm_net

REPORT_KEYS = ("input_ids", "attention_mask", "sentence_index")


def batches(count=3, size=4, length=10):
    generator = torch.Generator().manual_seed(0)
    for _ in range(count):
        ids = torch.randint(5, 40, (size, length), generator=generator)
        ids[:, 0], ids[:, -1] = 2, 3
        sentence_index = torch.full((size, length), -1)
        sentence_index[:, 1:5], sentence_index[:, 5:9] = 0, 1
        yield {
            "image": torch.randn(size, 1, 32, 32, generator=generator),
            "input_ids": ids,
            "attention_mask": torch.ones_like(ids),
            "sentence_index": sentence_index,
        }


def make_trainer(network, loss, max_epochs=2):
    return MultiScaleTrainer(
        device="cpu",
        max_epochs=max_epochs,
        train_data_loader=list(batches()),
        network=network,
        optimizer=torch.optim.AdamW(network.parameters(), lr=1e-2),
        loss_function=loss,
        prepare_batch=PrepareBatchExtraInput(extra_keys={k: k for k in REPORT_KEYS}),
    )


def test_terms_are_logged_and_the_network_state_is_trained():
    torch.manual_seed(0)
    network = tiny_msfm_net()
    scale, head = network.log_logit_scale.detach().clone(), network.itm_head.fc2.weight.detach().clone()
    trainer = make_trainer(network, MultiScaleLoss())
    trainer.run()
    expected = {f"loss_{name}" for name in (*LOSS_TERMS, "total")}
    assert expected <= trainer.state.metrics.keys()
    output = trainer.state.output[0]  # decollated: every sample carries the batch's terms
    assert expected <= output.keys()
    assert trainer.state.key_metric_name == "loss_total"
    assert not torch.equal(network.log_logit_scale, scale)
    assert not torch.equal(network.itm_head.fc2.weight, head)


def test_the_key_metric_is_lowest_best():
    trainer = make_trainer(tiny_msfm_net(), MultiScaleLoss())
    assert trainer.metric_cmp_fn(1.0, 2.0) and not trainer.metric_cmp_fn(2.0, 1.0)


def test_only_the_needed_outputs_are_computed():
    calls = []
    network = tiny_msfm_net()
    original = network.forward

    def spy(*args, **kwargs):
        calls.append((kwargs["reconstruction"], kwargs["matching"]))
        return original(*args, **kwargs)

    network.forward = spy
    make_trainer(network, MultiScaleLoss(instance_weight=0.0, modality_weight=0.0), max_epochs=1).run()
    assert calls and set(calls) == {(False, False)}


def test_a_bf16_autocast_step_matches_fp32():
    """Every term under CPU bf16 autocast (the code path of CUDA autocast) runs and stays within 5 % of fp32 on the
    same weights and batch, MAE and matching included."""
    batch = next(batches(count=1))
    terms = {}
    for amp in (False, True):
        torch.manual_seed(0)
        network, loss = tiny_msfm_net(), MultiScaleLoss()
        trainer = make_trainer(network, loss, max_epochs=1)
        trainer.amp = amp
        trainer.state.iteration = 0
        torch.manual_seed(1)  # the same masks and negatives in both runs
        output = trainer._iteration(trainer, batch)[0]  # decollated: every sample carries the batch's terms
        terms[amp] = {k: float(v) for k, v in output.items() if k.startswith("loss_")}
    assert terms[True].keys() == terms[False].keys() and len(terms[True]) > 4
    for name, value in terms[False].items():
        assert abs(terms[True][name] - value) <= 0.05 * abs(value) + 1e-3, (name, value, terms[True][name])
