"""Plotting functions (matplotlib, files only)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np
from monai.utils import optional_import

matplotlib, _ = optional_import("matplotlib")
roc_curve, _ = optional_import("sklearn.metrics", name="roc_curve")

__all__ = ["plot_roc_curves", "plot_training_curves", "plot_overlays"]


def _pyplot():
    matplotlib.use("Agg")  # files only; never needs a display
    import matplotlib.pyplot as plt

    return plt


def plot_roc_curves(
    scores: np.ndarray, labels: np.ndarray, class_names: Sequence[str], aucs: Sequence[float], path: os.PathLike | str
) -> None:
    """One ROC curve per class (``[N, C]`` scores and labels), with its AUC in the legend."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 5))
    for c, name in enumerate(class_names):
        if np.isnan(aucs[c]):
            continue
        fpr, tpr, _ = roc_curve(labels[:, c], scores[:, c])
        ax.plot(fpr, tpr, label=f"{name} (AUC {aucs[c]:.3f})")
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=0.8)
    ax.set(xlabel="false positive rate", ylabel="true positive rate", xlim=(0, 1), ylim=(0, 1.01))
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_training_curves(history: Mapping[str, Mapping[int, float]], path: os.PathLike | str) -> None:
    """One panel per series of ``{name: {epoch: value}}`` (training loss, validation metrics); a ``train_<m>``
    series shares the panel of its ``val_<m>`` counterpart, so that the gap between them shows."""
    plt = _pyplot()
    panels: dict[str, list[str]] = {}
    for name in (name for name, series in history.items() if series):
        paired = name.startswith("train_") and f"val_{name[6:]}" in history and history[f"val_{name[6:]}"]
        panels.setdefault(f"val_{name[6:]}" if paired else name, []).append(name)
    fig, axes = plt.subplots(1, max(len(panels), 1), figsize=(4 * max(len(panels), 1), 3.2), squeeze=False)
    for ax, (title, names) in zip(axes[0], panels.items()):
        for name in names:
            epochs = sorted(history[name])
            ax.plot(epochs, [history[name][e] for e in epochs], marker="o", markersize=3, label=name)
        if len(names) > 1:
            ax.legend(fontsize=7)
        ax.set(title=title if len(names) == 1 else title[4:], xlabel="epoch")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_overlays(
    panels: Sequence[Mapping], path: os.PathLike | str, columns: int = 4, heatmap_label: str = "similarity"
) -> None:
    """A grid of grey images with an optional heatmap (``"heatmap"`` in ``[-1, 1]``), optional truth and
    prediction contours (``"truth"``, ``"pred"`` bool masks), optional ``[x, y, w, h]`` ``"boxes"`` and a
    ``"title"``; each panel's ``"image"`` is ``[H, W]``."""
    plt = _pyplot()
    rows = max(1, -(-len(panels) // columns))
    fig, axes = plt.subplots(rows, columns, figsize=(3 * columns, 3 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, panel in zip(axes.ravel(), panels):
        ax.imshow(panel["image"], cmap="gray")
        if "heatmap" in panel:
            shown = ax.imshow(panel["heatmap"], cmap="jet", alpha=0.4, vmin=-1, vmax=1)
        for key, colour in (("truth", "lime"), ("pred", "red")):
            if key in panel and np.any(panel[key]):
                ax.contour(panel[key].astype(float), levels=[0.5], colors=colour, linewidths=1)
        for x, y, w, h in panel.get("boxes", ()):
            ax.add_patch(matplotlib.patches.Rectangle((x, y), w, h, fill=False, edgecolor="lime", linewidth=1.2))
        ax.set_title(panel.get("title", ""), fontsize=7)
    if any("heatmap" in p for p in panels):
        fig.colorbar(shown, ax=axes.ravel().tolist(), shrink=0.6, label=heatmap_label)
    else:
        fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
