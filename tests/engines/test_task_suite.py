"""TaskSuite runs MONAI evaluators in turn and gathers their metrics for its own handlers."""

from __future__ import annotations

import torch
from ignite.engine import Events
from monai.engines import SupervisedEvaluator
from monai.handlers import IgniteMetricHandler, from_engine

from msfm.engines import TaskSuite
from msfm.metrics import MeanAUCMetric


def evaluator(labels: list[float], name: str) -> SupervisedEvaluator:
    data = [{"image": torch.tensor([[label]]), "label": torch.tensor([label])} for label in labels]
    return SupervisedEvaluator(
        device=torch.device("cpu"),
        val_data_loader=torch.utils.data.DataLoader(data, batch_size=2),
        network=torch.nn.Flatten(),
        key_val_metric={name: IgniteMetricHandler(MeanAUCMetric(), output_transform=from_engine(["pred", "label"]))},
    )


def test_suite_gathers_every_evaluators_metrics_and_skips_switched_off_ones():
    seen = []

    class Recorder:
        def attach(self, engine):
            engine.add_event_handler(Events.COMPLETED, lambda e: seen.append(dict(e.state.metrics)))

    suite = TaskSuite({"a": evaluator([0.0, 1.0, 1.0], "a_auc"), "b": evaluator([1.0, 0.0], "b_auc"), "c": None},
                      handlers=[Recorder()])
    suite.run()
    assert list(suite.tasks) == ["a", "b"]
    assert seen == [{"a_auc": 1.0, "b_auc": 1.0}]
