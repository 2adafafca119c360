from __future__ import annotations

import importlib.util
import math

import pytest

from tests.conftest import REPO_ROOT

_spec = importlib.util.spec_from_file_location("evaluate_all", REPO_ROOT / "scripts" / "evaluate_all.py")
evaluate_all = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(evaluate_all)


@pytest.mark.parametrize(
    "values, expected",
    [
        ([0.97], "97.0"),
        # mean 0.973, sample sd sqrt(((-0.003)^2 + 0.002^2 + 0.001^2) / 2) = 0.00265
        ([0.970, 0.975, 0.974], "97.3 ± 0.3"),
        ([0.5, 0.7], "60.0 ± 14.1"),
        ([math.nan], "–"),
    ],
)
def test_fmt_seeds(values, expected):
    assert evaluate_all.fmt_seeds(values) == expected


def test_seed_list_keeps_order_and_drops_repeats():
    assert evaluate_all.seed_list("2,0,2,1") == [2, 0, 1]
    with pytest.raises(ValueError):
        evaluate_all.seed_list("0,x")


def test_tables_title_names_the_seeds():
    results = {
        "classification": {"msfm": {"D": {"1": [0.9, 0.8]}}},
        "segmentation": {"msfm": {"P": {"1": [0.5, 0.5]}}},
        "zero_shot": {"msfm": {"zero_shot_auc": 0.6}},
    }
    text = evaluate_all.tables(results, ["1"], [0, 1])
    assert "Table 1. Fine-tuned classification, mean AUC (%), mean ± sd over seeds 0, 1" in text
    assert "| msfm | 85.0 ± 7.1 |" in text
    assert "| msfm | 50.0 ± 0.0 |" in text
