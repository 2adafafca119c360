"""The zero-shot evaluators' handlers: sample counts and the per-image zero-shot scores."""

from __future__ import annotations

import csv

import pytest
import torch
from ignite.engine import Engine
from monai.data import MetaTensor

from msfm.handlers import SampleCount, ZeroShotReport


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
