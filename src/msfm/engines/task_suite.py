"""The zero-shot workflow: the pretrained model's evaluation tasks as one ignite engine, so MONAI's MLflow
tracking and the bundle handlers attach to it."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import torch
from ignite.engine import Engine

from msfm.networks import MSFMNet

__all__ = ["TaskSuite"]


class TaskSuite(Engine):
    """Runs named tasks ``task(network, device) -> {metric: value}`` in one epoch, one task per iteration, and
    gathers their results in ``state.metrics``; handlers (metrics report, MLflow) attach as to any engine.

    Args:
        network: the pretrained model.
        tasks: ``{name: task}``; a ``None`` task is skipped (to switch one off by config override).
        device: where to run.
        handlers: objects with ``attach(engine)``.
    """

    def __init__(
        self,
        network: MSFMNet,
        tasks: Mapping[str, Callable[[MSFMNet, torch.device], Mapping[str, float]] | None],
        device: torch.device | str,
        handlers: Sequence = (),
    ) -> None:
        super().__init__(self._run_task)
        self.network, self.device = network, torch.device(device)
        self.tasks = {name: task for name, task in tasks.items() if task is not None}
        for handler in handlers:
            handler.attach(self)

    def _run_task(self, engine: Engine, name: str) -> dict[str, float]:
        self.network.eval()
        with torch.no_grad():
            results = dict(self.tasks[name](self.network, self.device))
        self.state.metrics.update({k: v for k, v in results.items() if not (isinstance(v, float) and math.isnan(v))})
        return results

    def run(self) -> None:  # type: ignore[override]
        """Run every task once."""
        super().run(list(self.tasks), max_epochs=1)
