"""Workflow pieces: resumable checkpoints, loss-term logging, retrieval validation, embedding export."""

from __future__ import annotations

from msfm.engines.checkpoint import ResumableCheckpoint, latest_checkpoints
from msfm.engines.embedding_writer import EmbeddingWriter
from msfm.engines.utils import (
    embeddings_from_output,
    loss_term_metrics,
    retrieval_metric_handlers,
    unique_parameters,
)

__all__ = [
    "EmbeddingWriter",
    "ResumableCheckpoint",
    "embeddings_from_output",
    "latest_checkpoints",
    "loss_term_metrics",
    "retrieval_metric_handlers",
    "unique_parameters",
]
