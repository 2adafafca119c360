"""Learning-rate schedules counted in epochs, as the bundle configs state them."""

from __future__ import annotations

from collections.abc import Sized

from monai.optimizers import WarmupCosineSchedule
from torch.optim import Optimizer

__all__ = ["epoch_warmup_cosine"]


def epoch_warmup_cosine(
    optimizer: Optimizer, warmup_epochs: float, max_epochs: int, steps_per_epoch: int | Sized | None = None, **kwargs
) -> WarmupCosineSchedule:
    """MONAI's ``WarmupCosineSchedule`` (stepped every iteration) with its warm-up and length given in epochs.

    Args:
        optimizer: the optimizer.
        warmup_epochs: epochs of linear warm-up.
        max_epochs: epochs of the whole schedule.
        steps_per_epoch: iterations per epoch, or the data loader whose length it is.
        kwargs: further ``WarmupCosineSchedule`` arguments.

    Raises:
        ValueError: when there is no iteration per epoch.
    """
    steps = len(steps_per_epoch) if isinstance(steps_per_epoch, Sized) else steps_per_epoch
    if not steps:
        if isinstance(steps_per_epoch, Sized):
            raise ValueError("the training data loader yields no batch (fewer cases than batch_size with drop_last?)")
        raise ValueError(f"steps_per_epoch must be positive, got {steps}")
    return WarmupCosineSchedule(optimizer, warmup_steps=int(warmup_epochs * steps), t_total=max_epochs * steps, **kwargs)
