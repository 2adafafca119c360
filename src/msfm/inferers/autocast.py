"""Mixed precision for MONAI's engines on any device: their own ``amp`` autocasts CUDA only."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from monai.inferers import Inferer, SimpleInferer

from msfm.precision import resolve_amp

__all__ = ["AutocastInferer"]


def _float32(outputs: Any) -> Any:
    """Floating tensors (however nested in dicts, lists and tuples) in float32; the rest as it is."""
    if isinstance(outputs, torch.Tensor):
        return outputs.float() if outputs.is_floating_point() else outputs
    if isinstance(outputs, Mapping):
        return type(outputs)({key: _float32(value) for key, value in outputs.items()})
    if isinstance(outputs, Sequence) and not isinstance(outputs, str):
        return type(outputs)(_float32(value) for value in outputs)
    return outputs


class AutocastInferer(Inferer):
    """Run another inferer under ``torch.autocast`` on ``device``'s type and return its outputs in float32, so that
    the losses, metrics and postprocessing after it work in full precision.

    MONAI's trainers and evaluators autocast with ``torch.autocast("cuda")`` only; given as their ``inferer``
    (with their own ``amp`` off), this one runs the forward pass in bf16 on CUDA and on CPUs alike, which is also
    how CPU tests take the code paths of CUDA autocast.

    Args:
        inferer: the inferer to wrap (default: ``SimpleInferer``).
        device: where the network runs.
        amp: ``True``, ``False`` or ``"auto"`` (bf16 where the device has fast bf16; see
            :func:`msfm.precision.resolve_amp`).
        dtype: the autocast type.
    """

    def __init__(
        self,
        inferer: Inferer | None = None,
        device: str | torch.device = "cpu",
        amp: bool | str = "auto",
        dtype: torch.dtype = torch.bfloat16,
    ) -> None:
        super().__init__()
        self.inferer = inferer or SimpleInferer()
        self.device_type = torch.device(device).type
        self.enabled = resolve_amp(amp, str(device))
        self.dtype = dtype

    def __call__(self, inputs: torch.Tensor, network, *args: Any, **kwargs: Any) -> Any:
        with torch.autocast(self.device_type, dtype=self.dtype, enabled=self.enabled):
            outputs = self.inferer(inputs, network, *args, **kwargs)
        return _float32(outputs) if self.enabled else outputs
