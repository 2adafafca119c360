"""Ignite handlers of the msfm workflows: resumable checkpoints, retrieval validation, embedding export, per-image
predictions, the zero-shot evaluators' outputs and the reports a run leaves behind (``metrics.json``, curves,
ROC curves, overlays)."""

from __future__ import annotations

from msfm.handlers.checkpoint import ResumableCheckpoint, latest_checkpoints
from msfm.handlers.embedding_writer import EmbeddingWriter
from msfm.handlers.predictions import ClassificationCSVWriter
from msfm.handlers.reports import (
    ClassificationReport,
    MetricsReport,
    SegmentationReport,
    TrainingCurves,
    write_metrics,
)
from msfm.handlers.retrieval import (
    FindingPrecision,
    TrainingPairRetrieval,
    embeddings_from_output,
    retrieval_metric_handlers,
)
from msfm.handlers.zero_shot import (
    GroundingOverlays,
    GroundingTable,
    PhraseSensitivity,
    SampleCount,
    ZeroShotReport,
    grounding_metric_handlers,
)

__all__ = [
    "ClassificationCSVWriter",
    "ClassificationReport",
    "EmbeddingWriter",
    "FindingPrecision",
    "GroundingOverlays",
    "GroundingTable",
    "MetricsReport",
    "PhraseSensitivity",
    "ResumableCheckpoint",
    "SampleCount",
    "SegmentationReport",
    "TrainingCurves",
    "TrainingPairRetrieval",
    "ZeroShotReport",
    "embeddings_from_output",
    "grounding_metric_handlers",
    "latest_checkpoints",
    "retrieval_metric_handlers",
    "write_metrics",
]
