"""The synthetic demo data: a pretraining corpus of chest-film-like images with reports, and the downstream task
sets drawn apart from it. Only the demo configs and the tests use it; nothing at run time depends on it."""

from __future__ import annotations

from msfm.demo.corpus import FINDING_TYPES, ensure_demo_datalist, make_demo_dataset, synthesize_case
from msfm.demo.tasks import DEMO_TASKS, ensure_demo_task, make_demo_tasks

__all__ = [
    "DEMO_TASKS",
    "FINDING_TYPES",
    "ensure_demo_datalist",
    "ensure_demo_task",
    "make_demo_dataset",
    "make_demo_tasks",
    "synthesize_case",
]
