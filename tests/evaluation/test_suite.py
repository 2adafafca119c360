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
        ([0.5, None, 0.7], "–"),
    ],
)
def test_fmt_seeds(values, expected):
    assert fmt_seeds(values) == expected


def test_tables_title_names_the_seeds():
    results = {
        "classification": {"msfm": {"D": {"1": [0.9, 0.8]}}},
        "segmentation": {"msfm": {"P": {"1": [0.5, 0.5]}}},
        "zero_shot": {"msfm": [{"zero_shot_auc": 0.6}]},
    }
    text = results_tables(results, ["1"], [0, 1])
    assert "Table 1. Fine-tuned classification, mean AUC (%), mean ± sd over seeds 0, 1" in text
    assert "| msfm | 85.0 ± 7.1 |" in text
    assert "| msfm | 50.0 ± 0.0 |" in text


def test_tables_over_pretraining_seeds_show_the_spread_of_every_metric():
    runs = [{"zero_shot_auc": 0.6, "grounding_mIoU": 0.10, "grounding_phrase_sensitivity": 0.2, "retrieval_mean_P5": 0.4},
            {"zero_shot_auc": 0.7, "grounding_mIoU": 0.12, "grounding_phrase_sensitivity": 0.4, "retrieval_mean_P5": 0.5}]
    results = {"probe": {"msfm": {"D": {"10": [0.8, 0.9]}}}, "zero_shot": {"msfm": runs},
               "ablation": {"global": {"zero_shot_auc": [0.5, 0.7], "grounding_mIoU": [0.1, 0.1], "cls_auc": [0.6, 0.6]}}}
    text = results_tables(results, ["10"], [0], n_pretrained=2)
    assert "Table 1." not in text and "Table 1b. Frozen-feature linear probe, mean AUC (%), mean ± sd over 2" in text
    assert "| msfm | 85.0 ± 7.1 |" in text
    assert "| msfm | 65.0 ± 7.1 |" in text  # Table 3
    # Table 4: mIoU, CNR and signed CNR (missing), phrase sensitivity, six Recall@K (missing), P@5 i2t, t2i (missing),
    # mean
    assert "| msfm | 0.110 ± 0.014 | – | – | 0.300 ± 0.141 | – | – | – | – | – | – | – | – | 45.0 ± 7.1 |" in text
    assert "| global | 60.0 ± 14.1 | 0.100 ± 0.000 | 60.0 ± 0.0 |" in text


def test_settings_build_the_encoder_rows_and_config_lists(tmp_path):
    data = demo_datasets("tasks")
    assert data["zero_shot"] == {"Demo-opacity": {"datalists": "tasks/pneumonia", "dataset_dir": "tasks"}}
    pretrained = [(Path("a/model.pt"), Path("a/tok")), (Path("b/model.pt"), Path("b/tok"))]
    settings = SuiteSettings(tmp_path, pretrained, data, tmp_path / "out", scale="demo")
    # one random initialisation per pretraining seed, each with that seed's tokenizer
    assert settings.encoders == {"msfm": pretrained, "random init": [(RANDOM_INIT, Path("a/tok")), (RANDOM_INIT, Path("b/tok"))]}
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
    paper = SuiteSettings(tmp_path, [(Path("m"), Path("t"))], data, tmp_path, scale="paper", random_baseline=False)
    assert "demo.json" not in paper.configs("msfm", "train.json") and list(paper.encoders) == ["msfm"]


def test_replicates_run_in_their_own_folders_with_their_own_seeds(tmp_path, monkeypatch):
    """Replicate k of fine-tuning seed s runs with seed s + 100 k; zero-shot replicate k with seed k; each in its
    own folder, so no run is reused for another replicate."""
    from msfm.evaluation import suite

    calls = []

    def fake_run(settings, bundle, run_id, config_files, out, overrides, done=None):
        calls.append((run_id, out.relative_to(tmp_path).as_posix(), overrides["seed"], str(overrides["pretrained_checkpoint"])))
        (done := done or out / "metrics.json").parent.mkdir(parents=True, exist_ok=True)
        done.write_text('{"mean_auc": %s, "probe_mean_auc": 0.5, "zero_shot_auc": 0.5}' % (0.6 + overrides["seed"] / 1000))
        return done

    monkeypatch.setattr(suite, "run_bundle", fake_run)
    pretrained = [(Path("a.pt"), Path("ta")), (Path("b.pt"), Path("tb"))]
    settings = SuiteSettings(tmp_path, pretrained, demo_datasets("t"), tmp_path, seeds=[0, 1], fractions=["10"],
                             tasks=["classification", "probe", "zero_shot"])
    results = suite.run_suite(settings)
    folders = [c[1] for c in calls]
    assert len(folders) == len(set(folders)) == 2 * 2 * 2 + 2 * 2 + 2 * 2
    assert ("training", "main/msfm_cls/msfm/Demo-5_10_seed101", 101, "b.pt") in calls
    assert ("training", "main/msfm_cls/random init/Demo-5_10_seed100", 100, "$None") in calls
    assert ("probing", "probe/msfm_cls/msfm/Demo-5_10_seed100", 100, "b.pt") in calls
    assert ("evaluating", "main/msfm_zeroshot/random init_1", 1, "$None") in calls
    assert results["classification"]["msfm"]["Demo-5"]["10"] == pytest.approx([0.6, 0.601, 0.7, 0.701])
    assert "segmentation" not in results and (tmp_path / "results.md").is_file()
