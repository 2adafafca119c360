"""Evaluation of a pretrained model: the parts of the zero-shot evaluators (classification from prompts, phrase
grounding, retrieval) that MONAI lacks, the converged linear probe on frozen features, and the grid of bundle runs
behind Tables 1-5."""

from __future__ import annotations

from msfm.evaluation.probe import FrozenFeatureProbe, pooled_features
from msfm.evaluation.suite import SuiteSettings, run_suite
from msfm.evaluation.zero_shot import GroundingHeatmaps, collate_keeping_lists, label_column

__all__ = [
    "FrozenFeatureProbe",
    "GroundingHeatmaps",
    "SuiteSettings",
    "collate_keeping_lists",
    "label_column",
    "pooled_features",
    "run_suite",
]
