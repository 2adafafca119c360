"""Per-image predictions of a classification run, written as a CSV that users can re-score."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import torch
from ignite.engine import Engine

from msfm.handlers.collector import CollectingHandler
from msfm.handlers.reports import source_files, write_table

__all__ = ["ClassificationCSVWriter"]


class ClassificationCSVWriter(CollectingHandler):
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
        super().__init__()
        self.path = Path(output_dir) / filename
        self.class_names = list(class_names)
        self.image_key = image_key

    def collect(self, engine: Engine) -> None:
        for source, output in zip(source_files(engine.state.batch, self.image_key), engine.state.output):
            scores = torch.as_tensor(output["pred"]).float().flatten().tolist()
            if len(scores) != len(self.class_names):
                raise ValueError(f"{len(scores)} predicted scores per image for {len(self.class_names)} class names")
            self.items.append([source, *scores])

    def write(self, engine: Engine) -> None:
        write_table(self.path, ["image", *self.class_names], self.items)
