from __future__ import annotations

import json

import numpy as np
import torch
from ignite.engine import Events
from ignite.metrics import MeanSquaredError
from monai.engines import SupervisedEvaluator, SupervisedTrainer
from monai.handlers import ValidationHandler, from_engine

from msfm.handlers import TrainingCurves, write_metrics


def _trainer(max_epochs: int, seed: int) -> SupervisedTrainer:
    torch.manual_seed(seed)
    data = [{"image": torch.randn(4, 3), "label": torch.randn(4, 1)} for _ in range(3)]
    network = torch.nn.Linear(3, 1)
    return SupervisedTrainer(
        device=torch.device("cpu"),
        max_epochs=max_epochs,
        train_data_loader=data,
        network=network,
        optimizer=torch.optim.SGD(network.parameters(), lr=0.1),
        loss_function=torch.nn.MSELoss(),
    )


def _losses(path) -> dict:
    return json.loads((path / "curves.json").read_text())["train_loss"]


def test_training_curves_survive_a_resume_and_reset_on_a_fresh_run(tmp_path):
    first = _trainer(2, seed=0)
    TrainingCurves(tmp_path).attach(first)
    first.run()
    before = _losses(tmp_path)
    assert sorted(before) == ["1", "2"] and (tmp_path / "curves.png").is_file()

    resumed = _trainer(3, seed=1)
    resumed.add_event_handler(Events.STARTED, lambda engine: setattr(engine.state, "epoch", 1))  # as a checkpoint would
    TrainingCurves(tmp_path).attach(resumed)
    resumed.run()
    after = _losses(tmp_path)
    assert sorted(after) == ["1", "2", "3"] and after["1"] == before["1"] and after["2"] != before["2"]

    fresh = _trainer(1, seed=2)
    TrainingCurves(tmp_path).attach(fresh)
    fresh.run()
    assert sorted(_losses(tmp_path)) == ["1"]


def test_training_curves_record_the_validated_epochs_only(tmp_path):
    trainer = _trainer(4, seed=0)
    validator = SupervisedEvaluator(
        device=torch.device("cpu"),
        val_data_loader=[{"image": torch.randn(4, 3), "label": torch.randn(4, 1)}],
        network=trainer.network,
        key_val_metric={"val_mse": MeanSquaredError(output_transform=from_engine(["pred", "label"]))},
        decollate=False,
    )
    ValidationHandler(validator=validator, interval=2, epoch_level=True).attach(trainer)
    TrainingCurves(tmp_path, validator=validator).attach(trainer)
    trainer.run()
    curves = json.loads((tmp_path / "curves.json").read_text())
    assert sorted(curves["train_loss"]) == ["1", "2", "3", "4"] and sorted(curves["val_mse"]) == ["2", "4"]
    assert curves["val_mse"]["4"] == validator.state.metrics["val_mse"]


def test_write_metrics_turns_nan_and_tensors_into_json(tmp_path):
    write_metrics(tmp_path / "m.json", {"a": torch.tensor(0.5), "b": float("nan"), "c": {"d": np.float32(2)}})
    assert json.loads((tmp_path / "m.json").read_text()) == {"a": 0.5, "b": None, "c": {"d": 2.0}}
