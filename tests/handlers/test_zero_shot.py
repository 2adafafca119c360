"""The zero-shot evaluators' handlers: sample counts, the per-image zero-shot scores and the grounding tables."""

from __future__ import annotations

import csv
import math

import pytest
import torch
from ignite.engine import Engine
from monai.data import MetaTensor

from msfm.handlers import GroundingTable, SampleCount, ZeroShotReport


def test_counts_and_per_image_scores(tmp_path):
    batches = [
        (["a.png", "b.png"], torch.tensor([[0.9], [0.2]]), torch.tensor([[1.0], [0.0]])),
        (["c.png"], torch.tensor([[0.4]]), torch.tensor([[1.0]])),
    ]

    def step(engine, item):
        files, pred, label = item
        image = MetaTensor(torch.zeros(len(files), 1, 2, 2), meta={"filename_or_obj": files})
        engine.state.batch = {"image": image, "label": label}
        return {"pred": pred, "label": label}

    engine = Engine(step)
    SampleCount("samples").attach(engine)
    ZeroShotReport(tmp_path).attach(engine)
    engine.run(batches, max_epochs=1)
    assert engine.state.metrics["samples"] == 3
    rows = list(csv.reader(open(tmp_path / "zero_shot_predictions.csv")))
    assert rows[0] == ["image", "label", "probability"] and [r[0] for r in rows[1:]] == ["a.png", "b.png", "c.png"]
    assert [float(r[2]) for r in rows[1:]] == pytest.approx([0.9, 0.2, 0.4]) and (tmp_path / "zero_shot_roc.png").is_file()


def _box_map(box):
    """A 4 x 4 map that is 1 on ``box`` (rows, cols slices) and -1 elsewhere, with the box as its truth."""
    truth = torch.zeros(4, 4, dtype=torch.bool)
    truth[box] = True
    return truth.float() * 2 - 1, truth


@pytest.mark.parametrize("with_categories", [True, False])
def test_grounding_tables_per_phrase_and_per_category(tmp_path, with_categories):
    hit, hit_truth = _box_map((slice(0, 2), slice(0, 2)))
    miss, _ = _box_map((slice(2, 4), slice(2, 4)))  # hottest where the box is not
    samples = [
        ("a.png", "effusion", "Left effusion.", hit, hit_truth),
        ("a.png", "effusion", "Small effusion.", miss, hit_truth),
        ("b.png", "pneumothorax", "Apical pneumothorax.", hit, hit_truth),
    ]

    def step(engine, item):
        source, category, phrase, heatmap, truth = item
        engine.state.batch = {"source": [source], "phrase": [phrase]}
        if with_categories:
            engine.state.batch["category"] = [category]
        return {"heatmap": heatmap[None], "truth": truth[None]}

    engine = Engine(step)
    GroundingTable(tmp_path / "phrases.csv", category_path=tmp_path / "categories.csv").attach(engine)
    engine.run(samples, max_epochs=1)
    phrases = list(csv.DictReader(open(tmp_path / "phrases.csv")))
    assert [r["phrase"] for r in phrases] == [s[2] for s in samples]
    assert [float(r["mIoU"]) for r in phrases] == pytest.approx([1.0, 0.0, 1.0])
    categories = {r["category"]: r for r in csv.DictReader(open(tmp_path / "categories.csv"))}
    if not with_categories:  # a datalist without categories: one row for all phrases
        assert list(categories) == [""] and categories[""]["phrases"] == "3"
        return
    assert [r["category"] for r in phrases] == ["effusion", "effusion", "pneumothorax"]
    assert {k: int(r["phrases"]) for k, r in categories.items()} == {"effusion": 2, "pneumothorax": 1}
    assert float(categories["effusion"]["mIoU"]) == pytest.approx(0.5)
    assert float(categories["pneumothorax"]["mIoU"]) == pytest.approx(1.0)
    cnr = [float(r["CNR"]) for r in phrases]  # NaN for the exact hits: flat inside and out
    assert math.isnan(cnr[0]) and float(categories["effusion"]["CNR"]) == pytest.approx(cnr[1])
    signed = [float(r["signed_CNR"]) for r in phrases]  # the miss is coldest on its box
    assert signed[1] == pytest.approx(-cnr[1]) and signed[1] < 0
    assert float(categories["effusion"]["signed_CNR"]) == pytest.approx(signed[1])
