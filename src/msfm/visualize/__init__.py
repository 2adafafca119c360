"""Figures written next to the metrics: ROC curves, training curves, segmentation and grounding overlays."""

from __future__ import annotations

from msfm.visualize.plots import plot_overlays, plot_roc_curves, plot_training_curves

__all__ = ["plot_overlays", "plot_roc_curves", "plot_training_curves"]
