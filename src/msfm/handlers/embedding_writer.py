"""Saving the image embeddings that an evaluator computes."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from ignite.engine import Engine

from msfm.handlers.collector import CollectingHandler

__all__ = ["EmbeddingWriter"]


class EmbeddingWriter(CollectingHandler):
    """Ignite handler: collect the ``pred`` embeddings ``[B, D]`` of every batch (of
    :class:`msfm.networks.MSFMImageEmbedder`) and write them to one ``.npz`` file when the engine completes.

    The file holds ``image_emb [N, D]`` (unit-normalised, float32) and ``identifiers``,
    the samples' ``key`` paths relative to ``base_dir`` (the dataset's own file names), row-aligned with the
    embeddings. The evaluator must keep the data order (no shuffling); its output may be batched or decollated.

    Args:
        output_path: the ``.npz`` file to write.
        data: the evaluated datalist entries, in loader order.
        base_dir: directory the identifiers are relative to; None keeps the entries' paths.
        key: entry key that identifies a sample.
    """

    def __init__(
        self,
        output_path: str | os.PathLike,
        data: Sequence[dict],
        base_dir: str | os.PathLike | None = None,
        key: str = "image",
    ) -> None:
        super().__init__()
        self.output_path = Path(output_path)
        self.identifiers = [os.path.relpath(e[key], base_dir) if base_dir else str(e[key]) for e in data]
        self.logger = logging.getLogger(__name__)

    def collect(self, engine: Engine) -> None:
        output = engine.state.output
        pred = output["pred"] if isinstance(output, dict) else torch.stack([item["pred"] for item in output])
        self.items.append(torch.nn.functional.normalize(pred.detach().float(), dim=-1).cpu())

    def write(self, engine: Engine) -> None:
        image = torch.cat(self.items).numpy()
        if len(self.identifiers) != image.shape[0]:
            raise ValueError(
                f"{len(self.identifiers)} identifiers for {image.shape[0]} embeddings: the loader must not drop or "
                "reorder samples."
            )
        self.output_path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(self.output_path, image_emb=image, identifiers=np.asarray(self.identifiers))
        self.logger.info(f"wrote {image.shape[0]} image embeddings to {self.output_path}")
