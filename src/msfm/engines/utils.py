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
    "scaled_lr_parameter_groups",
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


def scaled_lr_parameter_groups(
    network: nn.Module, learning_rate: float, lr_scales: Mapping[str, float]
) -> list[dict[str, object]]:
    """Optimizer parameter groups where the trainable parameters of named submodules train at a scaled rate
    (e.g. ``{"vit": 0.1}``: a pretrained encoder fine-tuned ten times slower than its new decoder).

    Args:
        network: the model.
        learning_rate: the base rate, for every parameter outside the named submodules.
        lr_scales: ``{submodule name: factor}``; names as in ``network.get_submodule``.

    Returns:
        one group per named submodule (``lr = learning_rate · factor``), then one for the rest; empty groups
        are dropped.

    Raises:
        ValueError: when a named submodule does not exist or the named submodules overlap.
    """
    groups, claimed = [], set()
    for name, scale in lr_scales.items():
        try:
            submodule = network.get_submodule(name)
        except AttributeError as error:
            raise ValueError(f"lr_scales names {name!r}, which {type(network).__name__} does not have.") from error
        params = unique_parameters(submodule)
        if claimed & {id(p) for p in params}:
            raise ValueError(f"lr_scales names overlapping submodules ({list(lr_scales)}).")
        claimed.update(id(p) for p in params)
        groups.append({"params": params, "lr": learning_rate * scale})
    groups.append({"params": [p for p in unique_parameters(network) if id(p) not in claimed], "lr": learning_rate})
    return [group for group in groups if group["params"]]


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
