from __future__ import annotations

import importlib.util

import pytest

from tests.conftest import REPO_ROOT

_spec = importlib.util.spec_from_file_location("evaluate_all", REPO_ROOT / "scripts" / "evaluate_all.py")
evaluate_all = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(evaluate_all)


def test_seed_list_keeps_order_and_drops_repeats():
    assert evaluate_all.seed_list("2,0,2,1") == [2, 0, 1]
    with pytest.raises(ValueError):
        evaluate_all.seed_list("0,x")


def test_tasks_and_tokenizer_pairing():
    assert evaluate_all.task_list("probe,zero_shot,probe") == ["probe", "zero_shot"]
    with pytest.raises(ValueError, match="unknown tasks"):
        evaluate_all.task_list("probe,linear")
    pairs = evaluate_all.pretrained_pairs(["s0/models/model.pt", "s1/models/model.pt"], None)
    assert [t.as_posix() for _, t in pairs] == ["s0/models/tokenizer", "s1/models/tokenizer"]
    assert {t.as_posix() for _, t in evaluate_all.pretrained_pairs(["a.pt", "b.pt"], ["tok"])} == {"tok"}
    with pytest.raises(ValueError, match="2 tokenizers for 3 checkpoints"):
        evaluate_all.pretrained_pairs(["a", "b", "c"], ["t1", "t2"])
