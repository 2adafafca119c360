"""msfm: a MONAI-native multi-scale vision-language foundation model for chest radiographs."""

from __future__ import annotations

__version__ = "0.1.0"

from msfm import (
    data,
    demo,
    engines,
    evaluation,
    handlers,
    inferers,
    losses,
    metrics,
    networks,
    optimizers,
    precision,
    settings,
    visualize,
)

__all__ = [
    "__version__",
    "data",
    "demo",
    "engines",
    "evaluation",
    "handlers",
    "inferers",
    "losses",
    "metrics",
    "networks",
    "optimizers",
    "precision",
    "settings",
    "visualize",
]
