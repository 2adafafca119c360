from __future__ import annotations

import numpy as np
import pytest

from msfm.data import RandSentenceSubsetd, load_or_train_tokenizer, tokenize_sentences


@pytest.fixture(scope="module")
def tokenizer(demo_dir, tmp_path_factory):
    path = tmp_path_factory.mktemp("tok") / "tokenizer"
    return load_or_train_tokenizer(path, demo_dir / "datalist.json", vocab_size=500, min_frequency=1)


SENTENCES = ["No pneumothorax.", "There is a right pleural effusion.", "Heart size is normal.", "No pneumonia."]


def test_kept_sentences_are_whole_reindexed_and_padded(tokenizer):
    report = tokenize_sentences(SENTENCES, tokenizer, max_length=40, max_sentences=16)
    transform = RandSentenceSubsetd(min_fraction=0.5, pad_token_id=tokenizer.pad_token_id)
    transform.set_random_state(0)
    seen_orders, seen_counts = set(), set()
    for _ in range(40):
        out = transform(dict(report))
        ids, owner, mask = out["input_ids"], out["sentence_index"], out["attention_mask"]
        assert ids.shape == (40,) and ids.dtype == report["input_ids"].dtype
        length = int(mask.sum())
        assert mask[:length].all() and not mask[length:].any()
        assert ids[0] == tokenizer.cls_token_id and ids[length - 1] == tokenizer.sep_token_id
        assert (ids[length:] == tokenizer.pad_token_id).all() and (owner[length - 1 :] == -1).all()
        kept = [tokenizer.decode(ids[owner == index]) for index in range(owner.max() + 1)]
        assert 2 <= len(kept) <= 4 and len(set(kept)) == len(kept)
        assert set(kept) <= {s.lower() for s in SENTENCES}  # whole sentences only, each once
        seen_orders.add(tuple(kept))
        seen_counts.add(len(kept))
    assert seen_counts == {2, 3, 4} and len(seen_orders) > 10


def test_off_or_empty_reports_pass_unchanged(tokenizer):
    report = tokenize_sentences(SENTENCES, tokenizer, max_length=40, max_sentences=16)
    unchanged = RandSentenceSubsetd(prob=0.0)(dict(report))
    assert all(np.array_equal(unchanged[key], report[key]) for key in report)
    full = RandSentenceSubsetd(min_fraction=1.0)
    full.set_random_state(1)
    out = full(dict(report))
    assert sorted(out["input_ids"].tolist()) == sorted(report["input_ids"].tolist())  # all kept, reordered
    with pytest.raises(ValueError, match="min_fraction"):
        RandSentenceSubsetd(min_fraction=0.0)
