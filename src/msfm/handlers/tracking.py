"""A run's output files as MLflow artifacts of the run that ``monai.bundle run --tracking mlflow`` keeps."""

from __future__ import annotations

import os
from collections.abc import Iterable

from ignite.engine import Engine, Events
from monai.handlers import MLFlowHandler

__all__ = ["log_artifacts"]


def log_artifacts(engine: Engine, paths: Iterable[str | os.PathLike]) -> None:
    """Log ``paths`` as artifacts of the MLflow run of each ``MLFlowHandler`` attached to ``engine`` (MONAI's
    tracking adds them after the bundle's own handlers, so their run is still open when those complete); nothing
    without tracking. The paths are also listed in ``engine.state.artifacts``, for an enclosing engine (such as
    :class:`msfm.engines.TaskSuite`) to log with its own tracking.

    MONAI's handler logs only the executed config as an artifact, and Ignite has no public listing of an engine's
    handlers, hence the look into ``engine._event_handlers``.
    """
    paths = [os.fspath(path) for path in paths]
    engine.state.artifacts = [*getattr(engine.state, "artifacts", []), *paths]
    trackers = {}
    for handler, *_ in engine._event_handlers.get(Events.COMPLETED, []):
        tracker = getattr(handler, "__self__", None)
        if isinstance(tracker, MLFlowHandler) and tracker.cur_run is not None:
            trackers[id(tracker)] = tracker
    for tracker in trackers.values():
        for path in paths:
            tracker.client.log_artifact(tracker.cur_run.info.run_id, path)
