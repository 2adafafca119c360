"""Small pieces that bundle configs wire into MONAI workflows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial

import torch
from ignite.metrics import Average
from monai.handlers import IgniteMetricHandler
from torch import nn

from msfm.losses import MultiScaleLoss
from msfm.metrics import RetrievalRecallMetric

__all__ = [
    "embeddings_from_output",
    "loss_term_metrics",
    "retrieval_metric_handlers",
    "unique_parameters",
]


def unique_parameters(*modules: nn.Module) -> list[nn.Parameter]:
    """Trainable parameters of several modules, each once (the loss shares the network's match head)."""
    seen: dict[int, nn.Parameter] = {}
    for module in modules:
        for param in module.parameters():
            if param.requires_grad:
                seen.setdefault(id(param), param)
    return list(seen.values())


def embeddings_from_output(output: Mapping) -> tuple[torch.Tensor, torch.Tensor]:
    """``(image_emb, text_emb)`` from a batched (not decollated) engine output."""
    return output["pred"]["image_emb"], output["pred"]["text_emb"]


def _last_term(loss: MultiScaleLoss, name: str, output: object) -> torch.Tensor:
    return loss.last_terms[name]


def loss_term_metrics(loss: MultiScaleLoss, names: Sequence[str] | None = None) -> dict[str, Average]:
    """Epoch averages of loss terms as ignite metrics named ``loss_<term>``.

    Args:
        loss: the objective; its :attr:`~msfm.losses.MultiScaleLoss.last_terms` are averaged.
        names: terms to track; default every active term (``"total"`` is also available).
    """
    names = loss.active_terms if names is None else names
    return {f"loss_{name}": Average(output_transform=partial(_last_term, loss, name)) for name in names}


def retrieval_metric_handlers(ks: Sequence[int] = (1, 5, 10)) -> dict[str, IgniteMetricHandler]:
    """Recall@K handlers for both directions: ``val_i2t_RK`` and ``val_t2i_RK`` (MLflow allows no "@" in names)."""
    handlers = {}
    for k in ks:
        for short, direction in (("i2t", "image_to_text"), ("t2i", "text_to_image")):
            handlers[f"val_{short}_R{k}"] = IgniteMetricHandler(
                metric_fn=RetrievalRecallMetric(k=k, direction=direction), output_transform=embeddings_from_output
            )
    return handlers
