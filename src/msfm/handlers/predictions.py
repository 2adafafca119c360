"""Per-image predictions of a classification run, written as a CSV that users can re-score."""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from pathlib import Path

import torch
from ignite.engine import Engine, Events
from monai.utils import ImageMetaKey

__all__ = ["ClassificationCSVWriter"]


class ClassificationCSVWriter:
    """On completion, ``predictions.csv`` in ``output_dir``: one row per image, its source file and one column of
    predicted probability per class (with a header naming the classes).

    It replaces MONAI's ``ClassificationSaver``, whose CSV has no header and which needs a lambda in the config to
    find the file names.

    Args:
        output_dir: where to write.
        class_names: names of the output columns, in the network's output order.
        filename: name of the CSV.
        image_key: batch key of the (MetaTensor) image whose source file names the row.

    Raises:
        ValueError: at completion, when the predictions do not have one column per class.
    """

    def __init__(
        self,
        output_dir: str | os.PathLike,
        class_names: Sequence[str],
        filename: str = "predictions.csv",
        image_key: str = "image",
    ) -> None:
        self.path = Path(output_dir) / filename
        self.class_names = list(class_names)
        self.image_key = image_key
        self.rows: list[list] = []

    def attach(self, engine: Engine) -> None:
        engine.add_event_handler(Events.EPOCH_STARTED, self._reset)
        engine.add_event_handler(Events.ITERATION_COMPLETED, self._collect)
        engine.add_event_handler(Events.COMPLETED, self._write)

    def _reset(self, engine: Engine) -> None:
        self.rows = []

    def _collect(self, engine: Engine) -> None:
        for item, output in zip(engine.state.batch, engine.state.output):
            scores = torch.as_tensor(output["pred"]).float().flatten().tolist()
            if len(scores) != len(self.class_names):
                raise ValueError(f"{len(scores)} predicted scores per image for {len(self.class_names)} class names")
            source = item[self.image_key].meta.get(ImageMetaKey.FILENAME_OR_OBJ, "")
            self.rows.append([source, *scores])

    def _write(self, engine: Engine) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["image", *self.class_names])
            writer.writerows(self.rows)
