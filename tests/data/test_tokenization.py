from __future__ import annotations

import json

import pytest

from msfm.data import (
    TokenizeReportd,
    load_or_train_tokenizer,
    report_sentences,
    tokenize_sentences,
    train_wordpiece_tokenizer,
)


@pytest.fixture(scope="module")
def tokenizer(demo_dir, tmp_path_factory):
    path = tmp_path_factory.mktemp("tok") / "tokenizer"
    return load_or_train_tokenizer(path, demo_dir / "datalist.json", vocab_size=500, min_frequency=1)


def test_trained_tokenizer_knows_the_corpus_and_is_cached(tokenizer, demo_dir, tmp_path):
    reports = [e["report"] for e in json.load(open(demo_dir / "datalist.json"))["validation"]]
    for report in reports:
        ids = tokenizer(" ".join(report_sentences(report)))["input_ids"]
        assert tokenizer.unk_token_id not in ids
    assert tokenizer.mask_token_id is not None and tokenizer.pad_token_id is not None
    cached = load_or_train_tokenizer(tokenizer.name_or_path)  # no datalist needed once saved
    assert cached.get_vocab() == tokenizer.get_vocab()
    with pytest.raises(FileNotFoundError, match="no tokenizer"):
        load_or_train_tokenizer(tmp_path / "none")


def test_sentence_spans_survive_tokenisation(tokenizer):
    sentences = ["No pneumothorax.", "There is a right pleural effusion.", "Heart size is normal."]
    out = tokenize_sentences(sentences, tokenizer, max_length=32, max_sentences=16)
    ids, owner = out["input_ids"], out["sentence_index"]
    assert ids[0] == tokenizer.cls_token_id and owner[0] == -1
    for index, sentence in enumerate(sentences):
        assert tokenizer.decode(ids[owner == index]) == sentence.lower()
    length = int(out["attention_mask"].sum())
    assert ids[length - 1] == tokenizer.sep_token_id and (owner[length - 1 :] == -1).all()
    assert (ids[length:] == tokenizer.pad_token_id).all()


def test_truncation_keeps_sep_and_drops_whole_sentences(tokenizer):
    sentences = ["No pneumothorax."] * 10
    truncated = tokenize_sentences(sentences, tokenizer, max_length=12, max_sentences=10)
    assert truncated["input_ids"][-1] == tokenizer.sep_token_id and truncated["attention_mask"].all()
    limited = tokenize_sentences(sentences, tokenizer, max_length=64, max_sentences=3)
    assert set(limited["sentence_index"].tolist()) == {-1, 0, 1, 2}


def test_transform_names_the_sample_on_an_empty_report(tokenizer):
    transform = TokenizeReportd("report", tokenizer, max_length=16)
    assert transform({"image": "a.png", "report": "FINDINGS: No effusion."})["input_ids"].shape == (16,)
    with pytest.raises(ValueError, match="bad.png: the report has no usable text"):
        transform({"image": "bad.png", "report": "  ___  "})


def test_a_trained_tokenizer_is_not_reused_for_another_datalist(tmp_path):
    import json as _json

    from msfm.data import load_or_train_tokenizer

    for name in ("a", "b"):
        entries = [{"report": f"FINDINGS: {name} small effusion. No pneumothorax."}] * 4
        (tmp_path / f"{name}.json").write_text(_json.dumps({"training": entries}))
    first = load_or_train_tokenizer(tmp_path / "tok", tmp_path / "a.json", vocab_size=60)
    assert len(load_or_train_tokenizer(tmp_path / "tok", tmp_path / "a.json", vocab_size=60)) == len(first)
    with pytest.raises(ValueError, match="was trained on .*a.json, not .*b.json"):
        load_or_train_tokenizer(tmp_path / "tok", tmp_path / "b.json", vocab_size=60)
    with pytest.raises(FileNotFoundError, match="--datalist"):
        load_or_train_tokenizer(tmp_path / "none")


def test_training_twice_on_the_same_reports_gives_the_same_vocabulary(demo_dir, tmp_path):
    """The trainer numbers word-internal pieces in hash order and breaks merge ties by number
    (huggingface/tokenizers#1794); on a small corpus ties are common, so unordered numbering shows."""
    reports = [e["report"] for e in json.load(open(demo_dir / "datalist.json"))["training"]]
    reports += ["Pneumothorax, XXXX: ___ unchanged; cardiomegaly!", "Subsegmental atelectasis (left base)."]
    first, *others = (train_wordpiece_tokenizer(reports, tmp_path / str(run), 400) for run in range(4))
    assert all(other.get_vocab() == first.get_vocab() for other in others)
    assert len(first) <= 400
    assert sorted(first.all_special_tokens) == ["[CLS]", "[MASK]", "[PAD]", "[SEP]", "[UNK]"]
    assert first.unk_token_id not in first(" ".join(report_sentences(reports[0])))["input_ids"]
    assert first.decode(first("pneumothorax unchanged")["input_ids"], skip_special_tokens=True) == (
        "pneumothorax unchanged"
    )
