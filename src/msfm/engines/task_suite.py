"""The zero-shot workflow: the pretrained model's evaluators run as one ignite engine, so that MONAI's MLflow
tracking and the bundle handlers see all their metrics."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from ignite.engine import Engine
from monai.engines import Workflow

from msfm.handlers.tracking import log_artifacts

__all__ = ["TaskSuite"]


class TaskSuite(Engine):
    """Runs named evaluators in one epoch, one evaluator per iteration, and gathers their metrics in
    ``state.metrics``; handlers (metrics report, MLflow) attach as to any engine, and the files the evaluators'
    handlers write become artifacts of the suite's MLflow run.

    Args:
        tasks: ``{name: evaluator}``, each a MONAI workflow with its own data, network and metrics; a ``None``
            task is skipped (to switch one off by config override).
        handlers: objects with ``attach(engine)``.
    """

    def __init__(self, tasks: Mapping[str, Workflow | None], handlers: Sequence = ()) -> None:
        super().__init__(self._run_task)
        self.tasks = {name: task for name, task in tasks.items() if task is not None}
        for handler in handlers:
            handler.attach(self)

    def _run_task(self, engine: Engine, name: str) -> dict[str, float]:
        evaluator = self.tasks[name]
        evaluator.state.artifacts = []
        evaluator.run()
        log_artifacts(self, evaluator.state.artifacts)
        results = {key: value if isinstance(value, int) else float(value) for key, value in evaluator.state.metrics.items()}
        self.state.metrics.update({k: v for k, v in results.items() if not math.isnan(v)})
        return results

    def run(self) -> None:  # type: ignore[override]
        """Run every evaluator once."""
        super().run(list(self.tasks), max_epochs=1)
