from __future__ import annotations

import pytest
import torch
import transformers

from msfm.networks import MSFMTextEncoder, mask_tokens
from msfm.networks.text_encoder import sentence_isolation

SMALL = {
    "vocab_size": 50,
    "hidden_size": 16,
    "num_layers": 1,
    "num_heads": 2,
    "intermediate_size": 32,
    "max_length": 12,
    "max_sentences": 3,
    "mask_token_id": 4,
}


def test_sentence_pooling_is_the_mean_of_each_sentences_tokens():
    encoder = MSFMTextEncoder(**SMALL)
    tokens = torch.randn(2, 6, 16)
    sentence_index = torch.tensor([[-1, 0, 0, 1, -1, -1], [-1, 0, 2, 2, 2, -1]])
    sentences, mask = encoder.pool_sentences(tokens, sentence_index)
    assert sentences.shape == (2, 3, 16)
    assert mask.tolist() == [[True, True, False], [True, False, True]]
    assert torch.allclose(sentences[0, 0], tokens[0, 1:3].mean(0))
    assert torch.allclose(sentences[0, 1], tokens[0, 3])
    assert torch.allclose(sentences[1, 2], tokens[1, 2:5].mean(0))
    assert torch.equal(sentences[0, 2], torch.zeros(16))


def test_forward_outputs():
    encoder = MSFMTextEncoder(**SMALL).eval()
    ids = torch.randint(5, 50, (2, 12))
    out = encoder(ids, torch.ones_like(ids), torch.zeros_like(ids))
    assert out["report"].shape == (2, 16) and out["sentences"].shape == (2, 3, 16)
    logits, labels = encoder.forward_masked(ids, torch.ones_like(ids), torch.zeros_like(ids), probability=0.5)
    assert logits.shape == (len(labels), 50) and 0 < len(labels) < 24 and (labels >= 5).all()


def test_mlm_head_runs_on_the_masked_tokens_only_with_the_dense_logits_there():
    encoder = MSFMTextEncoder(**SMALL).eval()
    ids = torch.randint(5, 50, (3, 12))
    attention_mask, sentence_index = torch.ones_like(ids), torch.zeros_like(ids)
    attention_mask[2, 8:] = 0
    sentence_index[2, 8:] = -1
    torch.manual_seed(0)
    logits, labels = encoder.forward_masked(ids, attention_mask, sentence_index, probability=0.3)
    torch.manual_seed(0)
    masked, dense_labels = mask_tokens(ids, sentence_index >= 0, encoder.mask_token_id, encoder.vocab_size, 0.3)
    picked = dense_labels != -100
    dense = encoder.bert(input_ids=masked, attention_mask=attention_mask).logits
    assert torch.equal(labels, dense_labels[picked]) and not picked[2, 8:].any()
    assert torch.allclose(logits, dense[picked], atol=1e-5)


def test_report_pooling_reads_cls_or_the_masked_token_mean():
    tokens = torch.randn(2, 6, 16)
    attention_mask = torch.tensor([[1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 1]])
    assert torch.equal(MSFMTextEncoder(**SMALL).pool_report(tokens, attention_mask), tokens[:, 0])
    mean = MSFMTextEncoder(**SMALL, report_pooling="mean").pool_report(tokens, attention_mask)
    assert torch.allclose(mean[0], tokens[0, :3].mean(0)) and torch.allclose(mean[1], tokens[1].mean(0))


def test_mean_pooled_report_ignores_padding():
    torch.manual_seed(0)
    encoder = MSFMTextEncoder(**SMALL, report_pooling="mean").eval()
    ids = torch.randint(5, 50, (1, 12))
    mask = torch.ones_like(ids)
    mask[:, 7:] = 0
    padded = ids.clone()
    padded[:, 7:] = 0
    report = encoder(ids, mask, torch.zeros_like(ids))["report"]
    assert torch.allclose(report, encoder(padded, mask, torch.zeros_like(ids))["report"], atol=1e-6)


def test_unknown_report_pooling_is_refused():
    with pytest.raises(ValueError, match="report_pooling"):
        MSFMTextEncoder(**SMALL, report_pooling="max")


def test_attention_is_pytorch_fused_attention_and_matches_eager():
    """The BERT runs PyTorch's scaled_dot_product_attention (as the ViT does), with eager attention's results."""
    torch.manual_seed(0)
    encoder = MSFMTextEncoder(**SMALL).eval()
    assert encoder.bert.config._attn_implementation == "sdpa"
    ids = torch.randint(5, 50, (2, 12))
    mask = torch.ones_like(ids)
    mask[1, 8:] = 0
    fused = encoder(ids, mask, torch.zeros_like(ids))["report"]
    encoder.bert.set_attn_implementation("eager")
    assert torch.allclose(fused, encoder(ids, mask, torch.zeros_like(ids))["report"], atol=1e-5)


def test_mask_tokens_statistics():
    torch.manual_seed(0)
    ids = torch.randint(10, 1000, (200, 100))
    maskable = torch.rand(200, 100) > 0.2
    masked, labels = mask_tokens(ids, maskable, mask_token_id=4, vocab_size=1000, probability=0.15)
    picked = labels != -100
    assert not (picked & ~maskable).any()
    assert torch.equal(labels[picked], ids[picked])
    assert torch.equal(masked[~picked], ids[~picked])
    share = picked.sum() / maskable.sum()
    assert abs(share.item() - 0.15) < 0.01
    as_mask = (masked[picked] == 4).float().mean().item()
    unchanged = (masked[picked] == ids[picked]).float().mean().item()
    assert abs(as_mask - 0.8) < 0.02 and abs(unchanged - 0.1) < 0.02


def test_loads_a_local_pretrained_directory(tmp_path):
    config = transformers.BertConfig(
        vocab_size=60,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=20,
    )
    reference = transformers.BertForMaskedLM(config)
    reference.save_pretrained(tmp_path / "cxr-bert")
    encoder = MSFMTextEncoder(pretrained_path=tmp_path / "cxr-bert", max_sentences=2)
    assert encoder.hidden_size == 16 and encoder.vocab_size == 60
    assert encoder.bert.config._attn_implementation == "sdpa"
    assert torch.equal(
        encoder.bert.bert.embeddings.word_embeddings.weight, reference.bert.embeddings.word_embeddings.weight
    )
    with pytest.raises(FileNotFoundError, match="not found"):
        MSFMTextEncoder(pretrained_path=tmp_path / "missing")


def test_a_tokenizer_sets_the_vocabulary_and_special_ids(tmp_path):
    from msfm.data import train_wordpiece_tokenizer

    reports = ["FINDINGS: No effusion. Heart size normal.", "IMPRESSION: Right lower lobe opacity."] * 5
    tokenizer = train_wordpiece_tokenizer(reports, tmp_path / "tok", vocab_size=60, min_frequency=1)
    encoder = MSFMTextEncoder(**SMALL, tokenizer=tokenizer)
    assert encoder.vocab_size == len(tokenizer) != SMALL["vocab_size"]
    assert encoder.mask_token_id == tokenizer.mask_token_id
    assert encoder.bert.config.pad_token_id == tokenizer.pad_token_id


def test_sentence_isolation_masks_and_positions():
    # [CLS] a a b b b [SEP] [PAD]
    sentence_index = torch.tensor([[-1, 0, 0, 1, 1, 1, -1, -1]])
    attention_mask = torch.tensor([[1, 1, 1, 1, 1, 1, 1, 0]])
    mask, positions = sentence_isolation(attention_mask, sentence_index)
    assert positions.tolist() == [[0, 1, 2, 1, 2, 3, 6, 7]]
    allowed = mask[0, 0].int().tolist()
    assert allowed[0] == [1, 0, 0, 0, 0, 0, 0, 0]  # [CLS] sees only itself
    assert allowed[1] == [1, 1, 1, 0, 0, 0, 0, 0]  # a: [CLS] and its sentence
    assert allowed[4] == [1, 0, 0, 1, 1, 1, 0, 0]  # b
    assert allowed[6] == [1, 0, 0, 0, 0, 0, 1, 0]  # [SEP]: itself and [CLS]
    assert allowed[7] == [1, 0, 0, 0, 0, 0, 0, 0]  # padding never a key


def test_isolated_sentences_are_encoded_inside_a_report_as_alone():
    torch.manual_seed(0)
    settings = {**SMALL, "num_layers": 2, "max_length": 16}
    cls, sep, first, second = 2, 3, [7, 8, 9], [10, 11]
    report = torch.tensor([[cls, *first, *second, sep]])
    report_index = torch.tensor([[-1, 0, 0, 0, 1, 1, -1]])
    alone = torch.tensor([[cls, *second, sep]])
    alone_index = torch.tensor([[-1, 0, 0, -1]])
    features = {}
    for isolate in (True, False):
        torch.manual_seed(0)
        encoder = MSFMTextEncoder(**settings, isolate_sentences=isolate).eval()
        in_report = encoder(report, torch.ones_like(report), report_index)["sentences"][0, 1]
        features[isolate] = (in_report, encoder(alone, torch.ones_like(alone), alone_index)["sentences"][0, 0])
    assert torch.allclose(*features[True], atol=1e-5)
    assert not torch.allclose(*features[False], atol=1e-3)  # full attention carries the report into a sentence
    encoder.isolate_sentences = True
    fused = encoder(report, torch.ones_like(report), report_index)["tokens"]
    encoder.bert.set_attn_implementation("eager")
    assert torch.allclose(fused, encoder(report, torch.ones_like(report), report_index)["tokens"], atol=1e-5)
    with pytest.raises(ValueError, match="sentence_index"):
        encoder.encode_tokens(report, torch.ones_like(report))


def test_the_sentence_isolation_setting_travels_with_the_weights():
    isolated = MSFMTextEncoder(**SMALL, isolate_sentences=True)
    full = MSFMTextEncoder(**SMALL)
    assert isolated.state_dict()["isolates_sentences"].item() == 1
    full.load_state_dict(isolated.state_dict())
    assert full.isolate_sentences
    full.isolate_sentences = False
    assert full.state_dict()["isolates_sentences"].item() == 0


def test_the_report_pooling_travels_with_the_weights():
    mean_pooled = MSFMTextEncoder(**SMALL, report_pooling="mean")
    cls_pooled = MSFMTextEncoder(**SMALL)
    assert mean_pooled.state_dict()["pools_report_by_mean"].item() == 1
    cls_pooled.load_state_dict(mean_pooled.state_dict())
    assert cls_pooled.report_pooling == "mean"
    tokens, attention_mask = torch.randn(2, 5, SMALL["hidden_size"]), torch.tensor([[1, 1, 1, 0, 0]] * 2)
    torch.testing.assert_close(cls_pooled.pool_report(tokens, attention_mask), tokens[:, :3].mean(dim=1))
    cls_pooled.report_pooling = "cls"
    assert cls_pooled.state_dict()["pools_report_by_mean"].item() == 0
    with pytest.raises(ValueError, match="report_pooling must be one of"):
        cls_pooled.report_pooling = "max"
