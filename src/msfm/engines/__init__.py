"""Workflow pieces: resumable checkpoints, loss-term logging, retrieval validation, embedding export, run
reports (metrics.json and figures), the zero-shot task suite and the frozen-feature probe."""

from __future__ import annotations

from msfm.engines.checkpoint import ResumableCheckpoint, latest_checkpoints
from msfm.engines.embedding_writer import EmbeddingWriter
from msfm.engines.probe import FrozenFeatureProbe, pooled_features
from msfm.engines.reports import (
    ClassificationReport,
    MetricsReport,
    SegmentationReport,
    TrainingCurves,
    write_metrics,
)
from msfm.engines.utils import (
    embeddings_from_output,
    loss_term_metrics,
    retrieval_metric_handlers,
    unique_parameters,
)
from msfm.engines.zero_shot import (
    ImageTextRetrieval,
    PhraseGrounding,
    TaskSuite,
    ZeroShotClassification,
    load_msfm_checkpoint,
)

__all__ = [
    "ClassificationReport",
    "EmbeddingWriter",
    "FrozenFeatureProbe",
    "ImageTextRetrieval",
    "MetricsReport",
    "PhraseGrounding",
    "ResumableCheckpoint",
    "SegmentationReport",
    "TaskSuite",
    "TrainingCurves",
    "ZeroShotClassification",
    "embeddings_from_output",
    "latest_checkpoints",
    "load_msfm_checkpoint",
    "loss_term_metrics",
    "pooled_features",
    "retrieval_metric_handlers",
    "unique_parameters",
    "write_metrics",
]
