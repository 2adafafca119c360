"""Metrics."""

from __future__ import annotations

from msfm.metrics.retrieval import RETRIEVAL_DIRECTIONS, RetrievalRecallMetric, retrieval_recall

__all__ = ["RETRIEVAL_DIRECTIONS", "RetrievalRecallMetric", "retrieval_recall"]
