"""Workflows: the four-scale pretraining trainer and the zero-shot task suite."""

from __future__ import annotations

from msfm.engines.multi_scale_trainer import MultiScaleTrainer
from msfm.engines.task_suite import TaskSuite

__all__ = ["MultiScaleTrainer", "TaskSuite"]
