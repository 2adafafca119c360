"""Converged linear probe on frozen encoder features: a quick check of what a pretraining has learned."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from monai.utils import optional_import
from torch import nn
from torch.utils.data import DataLoader

from msfm.handlers.reports import write_metrics

linear_model, _ = optional_import("sklearn.linear_model")
metrics, _ = optional_import("sklearn.metrics")
multiclass, _ = optional_import("sklearn.multiclass")
pipeline, _ = optional_import("sklearn.pipeline")
preprocessing, _ = optional_import("sklearn.preprocessing")
tqdm, has_tqdm = optional_import("tqdm", name="tqdm")

__all__ = ["FrozenFeatureProbe", "pooled_features"]


@torch.no_grad()
def pooled_features(encoder: nn.Module, loader: DataLoader, device: torch.device | str = "cpu") -> tuple[np.ndarray, np.ndarray]:
    """Mean- and max-pooled patch tokens of a frozen MONAI ViT (``encoder(images) -> (tokens, hidden_states)``).

    Mean pooling is the pretraining's global feature; max pooling keeps small findings that a mean dilutes.

    Returns:
        ``(features [N, 2·width], labels [N, C])``.
    """
    encoder = encoder.to(device).eval()
    features, labels = [], []
    for batch in tqdm(loader, desc="features", leave=False) if has_tqdm else loader:
        tokens, _ = encoder(batch["image"].to(device))
        features.append(torch.cat([tokens.mean(dim=1), tokens.amax(dim=1)], dim=1).float().cpu())
        labels.append(torch.as_tensor(batch["label"]).float().reshape(len(tokens), -1))
    return torch.cat(features).numpy(), torch.cat(labels).numpy()


class FrozenFeatureProbe:
    """Fit a logistic regression per class on standardised frozen features to convergence, and score it by AUC.

    Unlike the bundle's ``linear_probe`` training (a head trained by the same short optimiser schedule as
    fine-tuning), this probe is not limited by an optimisation budget, so comparing a pretrained encoder with a
    randomly initialised one shows what the features themselves hold.

    Args:
        encoder: the frozen image encoder (a MONAI ViT).
        train_loader: labelled images (``image``, multi-hot ``label``) to fit on.
        test_loader: labelled images to score.
        class_names: one name per label column.
        output_dir: where ``probe_metrics.json`` is written.
        device: device of the feature extraction.
        inverse_regularization: sklearn's ``C``.
        max_iter: L-BFGS iterations.
        extra: more fields for the metrics file (dataset, checkpoint).

    Raises:
        ValueError: when a class has a single label value in the training or test split.
    """

    def __init__(
        self,
        encoder: nn.Module,
        train_loader: DataLoader,
        test_loader: DataLoader,
        class_names: Sequence[str],
        output_dir: str | os.PathLike,
        device: torch.device | str = "cpu",
        inverse_regularization: float = 1.0,
        max_iter: int = 2000,
        extra: dict | None = None,
    ) -> None:
        self.encoder = encoder
        self.train_loader, self.test_loader = train_loader, test_loader
        self.class_names = list(class_names)
        self.output_dir = Path(output_dir)
        self.device = device
        self.inverse_regularization, self.max_iter = inverse_regularization, max_iter
        self.extra = extra or {}

    def __call__(self) -> dict:
        """Extract, fit, score; returns and writes the metrics (``probe_mean_auc``, ``probe_per_class_auc``)."""
        train_x, train_y = pooled_features(self.encoder, self.train_loader, self.device)
        test_x, test_y = pooled_features(self.encoder, self.test_loader, self.device)
        for split, labels in (("training", train_y), ("test", test_y)):
            single = [n for n, column in zip(self.class_names, labels.T) if len(np.unique(column)) < 2]
            if single:
                raise ValueError(f"probe needs both label values of every class in the {split} split; {single} have one")
        probe = pipeline.make_pipeline(
            preprocessing.StandardScaler(),
            multiclass.OneVsRestClassifier(
                linear_model.LogisticRegression(C=self.inverse_regularization, max_iter=self.max_iter)
            ),
        ).fit(train_x, train_y)
        per_class = metrics.roc_auc_score(test_y, probe.decision_function(test_x), average=None)
        result = {
            **self.extra,
            "probe_mean_auc": float(np.mean(per_class)),
            "probe_per_class_auc": dict(zip(self.class_names, map(float, per_class))),
            "num_train": len(train_y),
            "num_test": len(test_y),
        }
        write_metrics(self.output_dir / "probe_metrics.json", result)
        return result
