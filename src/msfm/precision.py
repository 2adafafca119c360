"""Which arithmetic a run uses: ``amp: "auto"`` is bf16 autocast where the device multiplies bf16 fast."""

from __future__ import annotations

import logging
from functools import cache

import torch

__all__ = ["fast_bf16", "resolve_amp"]

logger = logging.getLogger(__name__)

# CPU features with bf16 matrix or dot-product instructions (Linux /proc/cpuinfo flag names)
_BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")


@cache
def _cpu_flags() -> frozenset[str]:
    try:
        with open("/proc/cpuinfo") as f:
            return frozenset(next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), []))
    except OSError:  # not Linux: no detection, so no automatic bf16
        return frozenset()


def fast_bf16(device: str | torch.device) -> str | None:
    """Why ``device`` runs bf16 faster than fp32 (``"CUDA bf16"``, ``"amx_bf16"``, ``"avx512_bf16"``), or None."""
    device = torch.device(device)
    if device.type == "cuda":
        return "CUDA bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else None
    if device.type == "cpu":
        return next((flag for flag in _BF16_CPU_FLAGS if flag in _cpu_flags()), None)
    return None


@cache
def resolve_amp(amp: bool | str, device: str | torch.device) -> bool:
    """Whether to autocast: ``amp`` itself when it is a bool, and for ``"auto"`` whether the device has fast bf16
    (CUDA with bf16 support; a CPU with AMX or AVX512-BF16). Logged once per setting and device.

    Raises:
        ValueError: for another string.
    """
    if isinstance(amp, str):
        if amp != "auto":
            raise ValueError(f"amp must be True, False or 'auto', got {amp!r} (on the command line: True or False).")
        reason = fast_bf16(device)
        enabled = reason is not None
        logger.info(
            f"amp 'auto' on {device}: "
            + (f"bf16 autocast ({reason})" if enabled else "fp32 (no fast bf16 found; set amp true to force bf16)")
        )
        return enabled
    logger.info(f"amp {bool(amp)} on {device}: {'bf16 autocast' if amp else 'fp32'}")
    return bool(amp)
