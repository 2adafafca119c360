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
