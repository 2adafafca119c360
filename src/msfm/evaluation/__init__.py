"""Evaluation of a pretrained model: the zero-shot tasks (classification from prompts, phrase grounding,
retrieval) and the converged linear probe on frozen features."""

from __future__ import annotations

from msfm.evaluation.probe import FrozenFeatureProbe, pooled_features
from msfm.evaluation.zero_shot import (
    ImageTextRetrieval,
    PhraseGrounding,
    ZeroShotClassification,
    zero_shot_probability,
)

__all__ = [
    "FrozenFeatureProbe",
    "ImageTextRetrieval",
    "PhraseGrounding",
    "ZeroShotClassification",
    "pooled_features",
    "zero_shot_probability",
]
