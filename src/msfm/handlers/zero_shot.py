"""What the zero-shot evaluators leave behind: sample counts, the zero-shot ROC curve with per-image scores, the
grounding metrics besides mIoU, per-phrase grounding scores, and grounding overlays."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
from ignite.engine import Engine, Events
from monai.handlers import IgniteMetricHandler, from_engine

from msfm.data.letterbox import Letterbox
from msfm.handlers.collector import CollectingHandler
from msfm.handlers.reports import source_files, write_table
from msfm.handlers.tracking import log_artifacts
from msfm.metrics import (
    GROUNDING_THRESHOLDS,
    ContrastToNoiseMetric,
    GroundingIoUMetric,
    contrast_to_noise,
    grounding_iou,
    per_class_auc,
    phrase_sensitivity,
)
from msfm.visualize.plots import plot_overlays, plot_roc_curves

__all__ = [
    "GroundingOverlays",
    "GroundingTable",
    "PhraseSensitivity",
    "SampleCount",
    "ZeroShotReport",
    "grounding_metric_handlers",
]


def _batched(output) -> Mapping:
    if not isinstance(output, Mapping):
        raise TypeError("zero-shot handlers read a batched output: build the evaluator with decollate=False")
    return output


class SampleCount:
    """Counts the evaluated samples (the batches' length along ``key``) into ``engine.state.metrics[name]``.

    Args:
        name: the metric name.
        key: the batch entry counted.
    """

    def __init__(self, name: str, key: str = "image") -> None:
        self.name, self.key, self.count = name, key, 0

    def attach(self, engine: Engine) -> None:
        engine.add_event_handler(Events.EPOCH_STARTED, self._reset)
        engine.add_event_handler(Events.ITERATION_COMPLETED, self._count)
        engine.add_event_handler(Events.EPOCH_COMPLETED, self._store)

    def _reset(self, engine: Engine) -> None:
        self.count = 0

    def _count(self, engine: Engine) -> None:
        batch = engine.state.batch
        self.count += len(batch[self.key]) if isinstance(batch, Mapping) else len(batch)

    def _store(self, engine: Engine) -> None:
        engine.state.metrics[self.name] = self.count


class ZeroShotReport(CollectingHandler):
    """On completion, in ``output_dir``: ``zero_shot_roc.png`` and ``zero_shot_predictions.csv`` (per image: its
    source file, the label and the zero-shot probability), so that users can re-score or look at failures; with
    MLflow tracking, both are the run's artifacts.

    Args:
        output_dir: where to write.
        column: the label column scored.
    """

    def __init__(self, output_dir: str | os.PathLike, column: int = 0) -> None:
        super().__init__()
        self.output_dir, self.column = Path(output_dir), column

    def collect(self, engine: Engine) -> None:
        output = _batched(engine.state.output)
        sources = source_files(engine.state.batch)
        scores = output["pred"].float().flatten().tolist()
        labels = output["label"][:, self.column].float().tolist()
        self.items += list(zip(sources, labels, scores))

    def write(self, engine: Engine) -> None:
        self.output_dir.mkdir(parents=True, exist_ok=True)
        labels = torch.tensor([[label] for _, label, _ in self.items]).numpy()
        scores = torch.tensor([[score] for _, _, score in self.items]).numpy()
        plot_roc_curves(
            scores, labels, ["zero-shot"], per_class_auc(scores, labels), self.output_dir / "zero_shot_roc.png"
        )
        write_table(self.output_dir / "zero_shot_predictions.csv", ["image", "label", "probability"], self.items)
        log_artifacts(engine, [self.output_dir / n for n in ("zero_shot_roc.png", "zero_shot_predictions.csv")])


class GroundingTable(CollectingHandler):
    """On completion, ``output_path``: one row per phrase (source file, finding category, phrase, mIoU over
    ``thresholds``, IoU at each, CNR, signed CNR), so that users can re-score, draw intervals or find failures;
    and ``category_path``, when given: per finding category (MS-CXR's ``category_name``), the number of phrases,
    their mIoU (IoU averaged over the category's phrases at each threshold, then over thresholds, as the overall
    mIoU), mean CNR and mean signed CNR (below zero where the maps are coldest on the boxes). With MLflow tracking
    both are artifacts of the run. Reads the ``heatmap`` and ``truth`` of :class:`msfm.evaluation.GroundingHeatmaps`
    and the batch's ``category`` (empty when the datalist has none).

    Args:
        output_path: the per-phrase CSV to write.
        thresholds: the IoU thresholds (those of the mIoU).
        category_path: the per-category CSV to write; None writes none.
    """

    def __init__(
        self,
        output_path: str | os.PathLike,
        thresholds: Sequence[float] = GROUNDING_THRESHOLDS,
        category_path: str | os.PathLike | None = None,
    ) -> None:
        super().__init__()
        self.output_path, self.thresholds = Path(output_path), tuple(thresholds)
        self.category_path = Path(category_path) if category_path is not None else None

    def collect(self, engine: Engine) -> None:
        output, batch = _batched(engine.state.output), engine.state.batch
        phrases = batch["phrase"]
        categories = batch.get("category", [""] * len(phrases))
        for source, category, phrase, heatmap, truth in zip(
            source_files(batch), categories, phrases, output["heatmap"], output["truth"]
        ):
            ious = grounding_iou(heatmap, truth, self.thresholds)
            cnr = [contrast_to_noise(heatmap, truth, signed) for signed in (False, True)]
            self.items.append([source, category, phrase, float(ious.nanmean()), *ious.tolist(), *cnr])

    def write(self, engine: Engine) -> None:
        header = ["image", "category", "phrase", "mIoU", *(f"IoU_t{t:g}" for t in self.thresholds), "CNR", "signed_CNR"]
        write_table(self.output_path, header, self.items)
        written = [self.output_path]
        if self.category_path is not None:
            header = ["category", "phrases", "mIoU", "CNR", "signed_CNR"]
            write_table(self.category_path, header, self._per_category())
            written.append(self.category_path)
        log_artifacts(engine, written)

    def _per_category(self) -> list[list]:
        rows: dict[str, list[list]] = {}
        for item in self.items:
            rows.setdefault(item[1], []).append(item[4:])
        table = []
        for category, values in sorted(rows.items()):
            values = torch.tensor(values, dtype=torch.float64)  # [phrases, thresholds + CNR + signed CNR]
            ious, cnr = values[:, :-2], values[:, -2:].nanmean(dim=0)
            table.append([category, len(values), float(ious.nanmean(dim=0).mean()), *cnr.tolist()])
        return table


class PhraseSensitivity(CollectingHandler):
    """On completion, ``grounding_phrase_sensitivity`` in the engine's metrics: the mean correlation between the
    maps of different phrases on the same image (:func:`msfm.metrics.phrase_sensitivity`; 1 for maps that ignore
    the phrase), and ``grounding_sensitivity_images``, the images with two or more phrases that it averages.
    Maps are kept at ``size`` pixels (area-resized) to bound memory.

    Args:
        size: side of the kept maps.
    """

    def __init__(self, size: int = 32) -> None:
        super().__init__()
        self.size = size

    def collect(self, engine: Engine) -> None:
        output = _batched(engine.state.output)
        for source, heatmap in zip(source_files(engine.state.batch), output["heatmap"]):
            small = torch.nn.functional.interpolate(heatmap.float()[None, None], size=(self.size, self.size), mode="area")
            self.items.append((source, small[0, 0]))

    def write(self, engine: Engine) -> None:
        maps: dict[str, list[torch.Tensor]] = {}
        for source, heatmap in self.items:
            maps.setdefault(source, []).append(heatmap)
        score, images = phrase_sensitivity(maps)
        engine.state.metrics.update({"grounding_phrase_sensitivity": score, "grounding_sensitivity_images": images})


class GroundingOverlays(CollectingHandler):
    """On completion, ``output_path``: the first ``num_overlays`` samples' heatmaps over their images with the
    phrase's boxes, titled with the phrase, IoU at threshold 0.3 and signed CNR (below zero: coldest on the box).
    Reads the ``heatmap`` and ``truth`` of :class:`msfm.evaluation.GroundingHeatmaps`.

    Args:
        output_path: the PNG to write.
        num_overlays: samples drawn.
    """

    def __init__(self, output_path: str | os.PathLike, num_overlays: int = 8) -> None:
        super().__init__()
        self.output_path, self.num_overlays = Path(output_path), num_overlays

    def collect(self, engine: Engine) -> None:
        output, batch = _batched(engine.state.output), engine.state.batch
        images = batch["image"]
        for i, (heatmap, truth) in enumerate(zip(output["heatmap"], output["truth"])):
            if len(self.items) >= self.num_overlays:
                return
            letterbox = Letterbox(tuple(int(s) for s in images.meta["spatial_shape"][i]), images.shape[-1])
            iou = float(grounding_iou(heatmap, truth, (0.3,))[0])
            cnr = contrast_to_noise(heatmap, truth, signed=True)
            self.items.append(
                {
                    "image": letterbox.canvas_to_original(images[i, 0].as_tensor().float().cpu()).numpy(),
                    "heatmap": heatmap.numpy(),
                    "boxes": batch["boxes"][i],
                    "title": f"{batch['phrase'][i][:40]}\nIoU@0.3 {iou:.2f} signed CNR {cnr:+.2f}",
                }
            )

    def write(self, engine: Engine) -> None:
        self.output_path.parent.mkdir(parents=True, exist_ok=True)
        plot_overlays(self.items, self.output_path, heatmap_label="normalised similarity")
        log_artifacts(engine, [self.output_path])


def grounding_metric_handlers(thresholds: Sequence[float] = GROUNDING_THRESHOLDS) -> dict[str, IgniteMetricHandler]:
    """The grounding metrics besides mIoU: ``grounding_CNR``, ``grounding_signed_CNR`` (below zero when maps are
    coldest on their boxes) and ``grounding_IoU_t<t>`` at each threshold, read from the ``heatmap`` and ``truth``
    of :class:`msfm.evaluation.GroundingHeatmaps`."""
    scores = from_engine(["heatmap", "truth"])
    handlers = {
        f"grounding_{name}": IgniteMetricHandler(metric_fn=ContrastToNoiseMetric(signed), output_transform=scores)
        for name, signed in (("CNR", False), ("signed_CNR", True))
    }
    for threshold in thresholds:
        handlers[f"grounding_IoU_t{threshold:g}"] = IgniteMetricHandler(
            metric_fn=GroundingIoUMetric((threshold,)), output_transform=scores
        )
    return handlers
