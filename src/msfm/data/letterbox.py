"""Geometry of the bundles' letterboxing (resize the longest side, then centre-pad to a square), and the maps
between original pixels and the letterboxed canvas for boxes and heatmaps.

It mirrors MONAI's ``Resized(size_mode="longest")`` followed by ``SpatialPadd`` (symmetric), which the bundles'
preprocessing applies; a test checks the two agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

__all__ = ["Letterbox"]


@dataclass(frozen=True)
class Letterbox:
    """Letterboxing of an ``original`` ``(rows, columns)`` image into a ``size × size`` canvas.

    Args:
        original: ``(rows, columns)`` of the image before preprocessing (display orientation).
        size: side of the square canvas.
    """

    original: tuple[int, int]
    size: int

    @property
    def resized(self) -> tuple[int, int]:
        """``(rows, columns)`` of the image content on the canvas (MONAI rounds each side)."""
        scale = self.size / max(self.original)
        return tuple(int(round(s * scale)) for s in self.original)  # type: ignore[return-value]

    @property
    def offset(self) -> tuple[int, int]:
        """``(top, left)`` padding before the content."""
        return tuple((self.size - r) // 2 for r in self.resized)  # type: ignore[return-value]

    def boxes_to_canvas(self, boxes: Sequence[Sequence[float]]) -> list[list[float]]:
        """``[x, y, w, h]`` boxes in original pixels → the same boxes in canvas pixels."""
        (rows, cols), (top, left) = self.resized, self.offset
        sy, sx = rows / self.original[0], cols / self.original[1]
        return [[x * sx + left, y * sy + top, w * sx, h * sy] for x, y, w, h in boxes]

    def canvas_to_original(self, image: torch.Tensor, mode: str = "bilinear") -> torch.Tensor:
        """A ``[..., size, size]`` map on the canvas → ``[..., rows, columns]`` on the original image: the padding
        is cropped, then the content resized (``mode`` of ``torch.nn.functional.interpolate``)."""
        (rows, cols), (top, left) = self.resized, self.offset
        content = image[..., top : top + rows, left : left + cols]
        lead = content.shape[:-2]
        flat = content.reshape(-1, 1, rows, cols).float()
        kwargs = {"align_corners": False} if mode in ("bilinear", "bicubic") else {}
        restored = F.interpolate(flat, size=self.original, mode=mode, **kwargs)
        return restored.reshape(*lead, *self.original)
