"""Retrieval Recall@K handlers over an evaluator's embeddings (the pretraining's validation, the zero-shot
retrieval)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from monai.handlers import IgniteMetricHandler

from msfm.metrics import RetrievalRecallMetric

__all__ = ["embeddings_from_output", "retrieval_metric_handlers"]


def embeddings_from_output(output: Mapping) -> tuple[torch.Tensor, torch.Tensor]:
    """``(image_emb, text_emb)`` from a batched (not decollated) engine output."""
    return output["pred"]["image_emb"], output["pred"]["text_emb"]


def retrieval_metric_handlers(ks: Sequence[int] = (1, 5, 10), prefix: str = "val") -> dict[str, IgniteMetricHandler]:
    """Recall@K handlers for both directions: ``<prefix>_i2t_RK`` and ``<prefix>_t2i_RK`` (MLflow allows no "@" in
    names)."""
    handlers = {}
    for k in ks:
        for short, direction in (("i2t", "image_to_text"), ("t2i", "text_to_image")):
            handlers[f"{prefix}_{short}_R{k}"] = IgniteMetricHandler(
                metric_fn=RetrievalRecallMetric(k=k, direction=direction), output_transform=embeddings_from_output
            )
    return handlers
