"""The evaluation grid's formatting, tables and settings (the bundle runs themselves are covered by
tests/bundles)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from msfm.evaluation.suite import RANDOM_INIT, SuiteSettings, demo_datasets, fmt_seeds, results_tables


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
    assert fmt_seeds(values) == expected


def test_tables_title_names_the_seeds():
    results = {
        "classification": {"msfm": {"D": {"1": [0.9, 0.8]}}},
        "segmentation": {"msfm": {"P": {"1": [0.5, 0.5]}}},
        "zero_shot": {"msfm": {"zero_shot_auc": 0.6}},
    }
    text = results_tables(results, ["1"], [0, 1])
    assert "Table 1. Fine-tuned classification, mean AUC (%), mean ± sd over seeds 0, 1" in text
    assert "| msfm | 85.0 ± 7.1 |" in text
    assert "| msfm | 50.0 ± 0.0 |" in text


def test_settings_build_the_encoder_rows_and_config_lists(tmp_path):
    data = demo_datasets("tasks")
    assert data["zero_shot"] == {"Demo-opacity": {"datalists": "tasks/pneumonia", "dataset_dir": "tasks"}}
    settings = SuiteSettings(tmp_path, Path("model.pt"), Path("tok"), data, tmp_path / "out", scale="demo")
    assert settings.encoders == {"msfm": (Path("model.pt"), Path("tok")), "random init": (RANDOM_INIT, Path("tok"))}
    files = settings.configs("msfm", "train.json", "ablation.json")
    assert files.endswith("configs/demo.json','" + str(tmp_path / "bundles/msfm/configs/ablation.json") + "']")
    layered = settings.configs("msfm_zeroshot", "evaluate.json", layered_on=("msfm", "train.json")).split(",")
    assert [f.split("bundles/")[1].rstrip("']") for f in layered] == [
        "common/configs/workflow.json", "msfm/configs/train.json", "msfm/configs/demo.json",
        "msfm_zeroshot/configs/evaluate.json", "msfm_zeroshot/configs/demo.json",
    ]
    downstream = settings.configs("msfm_cls", "train.json").split(",")
    assert [f.split("bundles/")[1].rstrip("']") for f in downstream] == [
        "common/configs/workflow.json", "msfm_cls/configs/inference.json", "msfm_cls/configs/train.json",
        "common/configs/downstream_demo.json", "msfm_cls/configs/demo.json",
    ]
    paper = SuiteSettings(tmp_path, Path("m"), Path("t"), data, tmp_path, scale="paper", random_baseline=False)
    assert "demo.json" not in paper.configs("msfm", "train.json") and list(paper.encoders) == ["msfm"]
