"""Evaluation of a pretrained model: the zero-shot tasks (classification from prompts, phrase grounding,
retrieval), the converged linear probe on frozen features, and the grid of bundle runs behind Tables 1-5."""

from __future__ import annotations

from msfm.evaluation.probe import FrozenFeatureProbe, pooled_features
from msfm.evaluation.suite import SuiteSettings, run_suite
from msfm.evaluation.zero_shot import (
    ImageTextRetrieval,
    PhraseGrounding,
    ZeroShotClassification,
)

__all__ = [
    "FrozenFeatureProbe",
    "ImageTextRetrieval",
    "PhraseGrounding",
    "SuiteSettings",
    "ZeroShotClassification",
    "pooled_features",
    "run_suite",
]
