"""Handlers that write what a run leaves behind: ``metrics.json``, training curves, ROC curves and overlays."""

from __future__ import annotations

import csv
import json
import os
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from ignite.engine import Engine, Events
from monai.utils import ImageMetaKey

from msfm.handlers.tracking import log_artifacts
from msfm.metrics import per_class_auc, per_image_dice
from msfm.visualize.plots import plot_overlays, plot_roc_curves, plot_training_curves

__all__ = [
    "write_metrics",
    "write_table",
    "source_files",
    "TrainingCurves",
    "MetricsReport",
    "ClassificationReport",
    "SegmentationReport",
]


def _plain(value):
    if isinstance(value, torch.Tensor):
        value = value.item() if value.numel() == 1 else value.tolist()
    if isinstance(value, float) and np.isnan(value):
        return None  # JSON has no NaN
    if isinstance(value, (np.floating, np.integer)):
        return _plain(value.item())
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


def write_metrics(path: str | os.PathLike, metrics: Mapping) -> None:
    """Write ``metrics`` as indented JSON (NaN becomes ``null``), creating the folder.

    Not MONAI's ``MetricsSaver``: that writes one CSV per metric, while a run's ``metrics.json`` also records how
    it was made (split, datalist, checkpoint, sample counts) and is what ``msfm.evaluation.suite`` reads back.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        json.dump(_plain(metrics), f, indent=2)


def write_table(path: str | os.PathLike, header: Sequence[str], rows: Sequence[Sequence]) -> None:
    """Write a per-sample table as CSV with a header row, creating the folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


def source_files(batch, key: str = "image") -> list[str]:
    """The source file of each sample of a batch (collated or decollated): the dataset's own path, which keys
    the per-image tables (never a header value). Read from the ``source`` entry that the workflow's loading
    copies from the datalist (batches drop image metadata), else from ``key``'s metadata."""
    if isinstance(batch, Mapping):
        sources = batch.get("source", batch[key].meta.get(ImageMetaKey.FILENAME_OR_OBJ) if key in batch else None)
        return [str(s) for s in sources]
    return [str(item["source"] if "source" in item else item[key].meta[ImageMetaKey.FILENAME_OR_OBJ]) for item in batch]


def _batch(output, key: str) -> torch.Tensor:
    """A key of an engine output, batched or decollated."""
    if isinstance(output, Mapping):
        return torch.as_tensor(output[key]).detach().cpu()
    return torch.stack([torch.as_tensor(item[key]).detach().cpu() for item in output])


class TrainingCurves:
    """Per-epoch training loss and validation metrics, kept in ``curves.json`` and drawn in ``curves.png``.

    Attach it to the trainer after its ``ValidationHandler`` (bundle handler lists run in order): at each epoch's
    end it averages the iteration losses and, when ``validator`` has just run for that epoch, records its scalar
    metrics. A resumed run keeps the points of the epochs it resumes after; a fresh run in the same folder starts
    a new history.

    Args:
        output_dir: folder of ``curves.json`` and ``curves.png``.
        validator: the validation engine whose metrics are recorded, or None for the loss only.
    """

    def __init__(self, output_dir: str | os.PathLike, validator: Engine | None = None) -> None:
        self.output_dir = Path(output_dir)
        self.validator = validator
        self.history: dict[str, dict[int, float]] = defaultdict(dict)
        self._losses: list[float] = []

    def attach(self, engine: Engine) -> None:
        engine.add_event_handler(Events.STARTED, self._restore)
        engine.add_event_handler(Events.EPOCH_STARTED, lambda _: self._losses.clear())
        engine.add_event_handler(Events.ITERATION_COMPLETED, self._record_loss)
        engine.add_event_handler(Events.EPOCH_COMPLETED, self._epoch_completed)

    def _restore(self, engine: Engine) -> None:
        saved = self.output_dir / "curves.json"
        if saved.exists():  # checkpoints restore the trainer at STARTED too: keep epochs up to where it resumes
            history = json.loads(saved.read_text())
            for name, series in history.items():
                kept = {int(e): v for e, v in series.items() if int(e) <= engine.state.epoch and v is not None}
                self.history[name].update(kept)

    def _record_loss(self, engine: Engine) -> None:
        self._losses.append(float(_batch(engine.state.output, "loss").float().mean()))

    def _epoch_completed(self, engine: Engine) -> None:
        epoch = engine.state.epoch
        if self._losses:
            self.history["train_loss"][epoch] = float(np.mean(self._losses))
        validator = self.validator
        if validator is not None and validator.state.epoch == epoch:  # validated this epoch (val_interval)
            for name, value in validator.state.metrics.items():
                if isinstance(value, (int, float)) or (isinstance(value, torch.Tensor) and value.numel() == 1):
                    kept = name.startswith(("val", "train_"))  # train_: the training-pair retrieval beside it
                    self.history[name if kept else f"val_{name}"][epoch] = float(value)
        self._save()

    def _save(self) -> None:
        self.output_dir.mkdir(parents=True, exist_ok=True)
        write_metrics(self.output_dir / "curves.json", {k: dict(v) for k, v in self.history.items()})
        plot_training_curves(self.history, self.output_dir / "curves.png")


class MetricsReport:
    """Write the engine's metrics to ``metrics.json`` when it completes.

    Args:
        output_path: the JSON file.
        extra: more fields to store (e.g. the checkpoint and datalist evaluated).
    """

    def __init__(self, output_path: str | os.PathLike, extra: Mapping | None = None) -> None:
        self.output_path = output_path
        self.extra = dict(extra or {})

    def attach(self, engine: Engine) -> None:
        engine.add_event_handler(Events.COMPLETED, self)

    def __call__(self, engine: Engine) -> None:
        write_metrics(self.output_path, {**self.extra, **engine.state.metrics})
        log_artifacts(engine, [self.output_path])


class ClassificationReport:
    """On completion: per-class AUC (scikit-learn) and ROC curves of the evaluated set, ``metrics.json`` (with the
    engine's metrics), ``roc_curves.png`` and ``per_image_predictions.csv`` (per image: source file, then each
    class's label and probability, from which the AUCs can be recomputed) in ``output_dir``; with MLflow tracking,
    the three are the run's artifacts.

    Args:
        output_dir: where to write.
        class_names: names of the output columns.
        extra: more fields for ``metrics.json``.
    """

    def __init__(self, output_dir: str | os.PathLike, class_names: Sequence[str], extra: Mapping | None = None):
        self.output_dir = Path(output_dir)
        self.class_names = list(class_names)
        self.extra = dict(extra or {})
        self.scores: list[torch.Tensor] = []
        self.labels: list[torch.Tensor] = []
        self.sources: list[str] = []

    def attach(self, engine: Engine) -> None:
        engine.add_event_handler(Events.EPOCH_STARTED, self._reset)
        engine.add_event_handler(Events.ITERATION_COMPLETED, self._collect)
        engine.add_event_handler(Events.COMPLETED, self._report)

    def _reset(self, engine: Engine) -> None:
        self.scores, self.labels, self.sources = [], [], []

    def _collect(self, engine: Engine) -> None:
        self.scores.append(_batch(engine.state.output, "pred").float())
        self.labels.append(_batch(engine.state.output, "label").float())
        self.sources += source_files(engine.state.batch)

    def _report(self, engine: Engine) -> None:
        scores = torch.cat(self.scores).numpy().reshape(-1, len(self.class_names))
        labels = torch.cat(self.labels).numpy().reshape(-1, len(self.class_names))
        aucs = per_class_auc(scores, labels)
        self.output_dir.mkdir(parents=True, exist_ok=True)
        plot_roc_curves(scores, labels, self.class_names, aucs, self.output_dir / "roc_curves.png")
        write_metrics(
            self.output_dir / "metrics.json",
            {
                **self.extra,
                **engine.state.metrics,
                "mean_auc": float(np.nanmean(aucs)),
                "per_class_auc": dict(zip(self.class_names, aucs.tolist())),
                "num_samples": len(scores),
                "prevalence": dict(zip(self.class_names, labels.mean(axis=0).tolist())),
            },
        )
        header = ["image", *(f"{name}_{kind}" for name in self.class_names for kind in ("label", "probability"))]
        rows = [
            [source, *np.stack([label, score], 1).ravel().tolist()]
            for source, label, score in zip(self.sources, labels, scores)
        ]
        write_table(self.output_dir / "per_image_predictions.csv", header, rows)
        log_artifacts(
            engine, [self.output_dir / n for n in ("metrics.json", "roc_curves.png", "per_image_predictions.csv")]
        )


class SegmentationReport:
    """On completion: per-image Dice (SIIM convention), also split by empty and non-empty truth, in
    ``metrics.json`` (with the engine's metrics), ``per_image_dice.csv`` (source file, Dice, whether the truth
    has a finding) and ``overlays.png`` (truth in green, prediction in red) of the first ``num_examples`` images
    with a finding; with MLflow tracking, these are the run's artifacts.

    Args:
        output_dir: where to write.
        threshold: probability above which a pixel is predicted positive.
        num_examples: overlays drawn.
        extra: more fields for ``metrics.json``.
    """

    def __init__(
        self, output_dir: str | os.PathLike, threshold: float = 0.5, num_examples: int = 8, extra: Mapping | None = None
    ):
        self.output_dir = Path(output_dir)
        self.threshold = threshold
        self.num_examples = num_examples
        self.extra = dict(extra or {})
        self.dice: list[torch.Tensor] = []
        self.positive: list[torch.Tensor] = []
        self.examples: list[dict] = []
        self.sources: list[str] = []

    def attach(self, engine: Engine) -> None:
        engine.add_event_handler(Events.EPOCH_STARTED, self._reset)
        engine.add_event_handler(Events.ITERATION_COMPLETED, self._collect)
        engine.add_event_handler(Events.COMPLETED, self._report)

    def _reset(self, engine: Engine) -> None:
        self.dice, self.positive, self.examples, self.sources = [], [], [], []

    def _collect(self, engine: Engine) -> None:
        images, preds, labels = (_batch(engine.state.output, k) for k in ("image", "pred", "label"))
        dice = per_image_dice(preds, labels, self.threshold)
        positive = labels.flatten(1).amax(dim=1) > 0.5
        self.dice.append(dice)
        self.positive.append(positive)
        self.sources += source_files(engine.state.batch)
        for image, pred, label, score, found in zip(images, preds, labels, dice, positive):
            if len(self.examples) < self.num_examples and found:
                self.examples.append(
                    {
                        "image": image[0].float().numpy(),
                        "truth": label[0].numpy() > 0.5,
                        "pred": pred[0].float().numpy() > self.threshold,
                        "title": f"Dice {float(score):.3f}",
                    }
                )

    def _report(self, engine: Engine) -> None:
        dice, positive = torch.cat(self.dice), torch.cat(self.positive)
        self.output_dir.mkdir(parents=True, exist_ok=True)
        if self.examples:
            plot_overlays(self.examples, self.output_dir / "overlays.png")
        write_metrics(
            self.output_dir / "metrics.json",
            {
                **self.extra,
                **engine.state.metrics,
                "dice": float(dice.mean()),
                "dice_with_finding": float(dice[positive].mean()) if positive.any() else None,
                "dice_without_finding": float(dice[~positive].mean()) if (~positive).any() else None,
                "num_samples": len(dice),
                "num_with_finding": int(positive.sum()),
            },
        )
        rows = [[source, float(d), bool(p)] for source, d, p in zip(self.sources, dice, positive)]
        write_table(self.output_dir / "per_image_dice.csv", ["image", "dice", "with_finding"], rows)
        outputs = ["metrics.json", "per_image_dice.csv", *(["overlays.png"] if self.examples else [])]
        log_artifacts(engine, [self.output_dir / name for name in outputs])
