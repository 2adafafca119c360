"""Retrieval Recall@K handlers over an evaluator's embeddings (the pretraining's validation, the zero-shot
retrieval), and the same retrieval on a sample of training pairs, next to validation's."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import torch
from ignite.engine import Engine, Events
from monai.handlers import IgniteMetricHandler

from msfm.handlers.collector import CollectingHandler
from msfm.metrics import RetrievalRecallMetric, finding_precision, retrieval_recall

__all__ = ["FindingPrecision", "TrainingPairRetrieval", "embeddings_from_output", "retrieval_metric_handlers"]

logger = logging.getLogger(__name__)


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


class TrainingPairRetrieval:
    """Retrieval on a fixed sample of training pairs, run after each validation by the validator's own network,
    inferer and batch preparation, so that memorisation shows beside generalisation: it adds
    ``<prefix>_mean_R1``, ``<prefix>_mean_R10`` and ``<prefix>_val_gap_R1`` (its mean Recall@1 minus the
    validator's, the mean of ``val_i2t_R1`` and ``val_t2i_R1``) to the validator's metrics, which MLflow and the
    training curves record.

    Args:
        data_loader: the training sample, with the validation's preprocessing (no augmentation).
        prefix: name prefix of the metrics.
        validation_prefix: prefix of the validator's Recall@1 metrics (:func:`retrieval_metric_handlers`).
    """

    def __init__(self, data_loader, prefix: str = "train", validation_prefix: str = "val") -> None:
        self.data_loader, self.prefix, self.validation_prefix = data_loader, prefix, validation_prefix

    def attach(self, engine: Engine) -> None:
        engine.add_event_handler(Events.EPOCH_COMPLETED, self)

    def __call__(self, engine: Engine) -> None:
        images, texts = [], []
        with engine.mode(engine.network), torch.no_grad():
            for batch in self.data_loader:
                inputs, _, args, kwargs = engine.prepare_batch(batch, engine.state.device, engine.non_blocking)
                outputs = engine.inferer(inputs, engine.network, *args, **kwargs)
                images.append(outputs["image_emb"].float().cpu())
                texts.append(outputs["text_emb"].float().cpu())
        recall = retrieval_recall(torch.cat(images), torch.cat(texts), ks=(1, 10))
        metrics = {f"{self.prefix}_mean_R{k}": (recall[f"i2t_R{k}"] + recall[f"t2i_R{k}"]) / 2 for k in (1, 10)}
        validation = [engine.state.metrics.get(f"{self.validation_prefix}_{d}_R1") for d in ("i2t", "t2i")]
        if None not in validation:
            gap = metrics[f"{self.prefix}_mean_R1"] - sum(float(v) for v in validation) / 2
            metrics[f"{self.prefix}_val_gap_R1"] = gap
        engine.state.metrics.update(metrics)
        logger.info("training-pair retrieval: " + ", ".join(f"{k} {v:.4f}" for k, v in metrics.items()))


class FindingPrecision(CollectingHandler):
    """On completion, finding-aware precision@K (:func:`msfm.metrics.finding_precision`) in the engine's metrics,
    ``<prefix>_i2t_P<k>``, ``<prefix>_t2i_P<k>`` and their mean ``<prefix>_mean_P<k>``, from the ``findings`` of
    ``entries`` (the evaluated datalist entries, in the unshuffled loader's order). Datalists without
    ``findings`` (a MIMIC-CXR datalist prepared without its CheXpert label file) get no such metric, and a log
    line says so.

    Args:
        entries: the dataset's entries.
        ks: the K values.
        prefix: name prefix of the metrics.
    """

    def __init__(self, entries: Sequence[Mapping], ks: Sequence[int] = (5,), prefix: str = "retrieval") -> None:
        super().__init__()
        self.entries, self.ks, self.prefix = entries, tuple(ks), prefix

    def collect(self, engine: Engine) -> None:
        image, text = embeddings_from_output(engine.state.output)
        self.items.append((image.float().cpu(), text.float().cpu()))

    def write(self, engine: Engine) -> None:
        if any("findings" not in entry for entry in self.entries):
            logger.info("finding-aware precision skipped: the retrieval datalist has no 'findings' per entry")
            return
        image, text = (torch.cat([item[i] for item in self.items]) for i in (0, 1))
        precision = finding_precision(image, text, [entry["findings"] for entry in self.entries], self.ks)
        for k in self.ks:
            precision[f"mean_P{k}"] = (precision[f"i2t_P{k}"] + precision[f"t2i_P{k}"]) / 2
        engine.state.metrics.update({f"{self.prefix}_{name}": value for name, value in precision.items()})
