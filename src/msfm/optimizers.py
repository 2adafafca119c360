"""Optimiser wiring the bundle configs state in their own terms: schedules counted in epochs, a learning rate
for the pretrained encoder relative to the rest of the network, and which parameters weight decay applies to."""

from __future__ import annotations

from collections.abc import Sized

from monai.optimizers import WarmupCosineSchedule, generate_param_groups
from torch import nn
from torch.optim import Optimizer

__all__ = ["decay_param_groups", "encoder_param_groups", "epoch_warmup_cosine"]


def epoch_warmup_cosine(
    optimizer: Optimizer,
    warmup_epochs: float,
    max_epochs: int,
    steps_per_epoch: int | Sized | None = None,
    epoch_length: int | None = None,
    **kwargs,
) -> WarmupCosineSchedule:
    """MONAI's ``WarmupCosineSchedule`` (stepped every iteration) with its warm-up and length given in epochs.

    Args:
        optimizer: the optimizer.
        warmup_epochs: epochs of linear warm-up.
        max_epochs: epochs of the whole schedule.
        steps_per_epoch: iterations per epoch, or the data loader whose length it is.
        epoch_length: the trainer's ``epoch_length`` when set, which then counts instead of ``steps_per_epoch``.
        kwargs: further ``WarmupCosineSchedule`` arguments.

    Raises:
        ValueError: when there is no iteration per epoch.
    """
    if epoch_length:
        steps_per_epoch = epoch_length
    steps = len(steps_per_epoch) if isinstance(steps_per_epoch, Sized) else steps_per_epoch
    if not steps:
        if isinstance(steps_per_epoch, Sized):
            raise ValueError("the training data loader yields no batch (fewer cases than batch_size with drop_last?)")
        raise ValueError(f"steps_per_epoch must be positive, got {steps}")
    return WarmupCosineSchedule(optimizer, warmup_steps=int(warmup_epochs * steps), t_total=max_epochs * steps, **kwargs)


def encoder_param_groups(
    network: nn.Module, learning_rate: float, encoder_lr_scale: float = 1.0, encoder: str = "vit"
) -> list[dict]:
    """Parameter groups for fine-tuning: the pretrained encoder (the submodule named ``encoder``) at
    ``learning_rate * encoder_lr_scale``, everything else at the optimiser's own learning rate.

    A thin wrapper of MONAI's ``generate_param_groups`` (``match_types="select"``) so that configs name the
    encoder instead of writing a lambda.

    Raises:
        AttributeError: when ``network`` has no submodule ``encoder``.
    """
    if not isinstance(getattr(network, encoder, None), nn.Module):
        raise AttributeError(f"{type(network).__name__} has no encoder submodule {encoder!r}")
    return generate_param_groups(
        network,
        layer_matches=[lambda net: getattr(net, encoder)],
        match_types=["select"],
        lr_values=[learning_rate * encoder_lr_scale],
        include_others=True,
    )


def decay_param_groups(network: nn.Module) -> list[dict]:
    """Two parameter groups: the weight matrices and embeddings (``ndim >= 2``), decayed at the optimiser's
    ``weight_decay``, and the gains, biases and scalars such as ``log_logit_scale`` (``ndim <= 1``), not decayed,
    as CLIP and open_clip train (decay would pull normalisation gains and the learned temperature toward zero).
    Frozen parameters are left out."""
    trainable = [p for p in network.parameters() if p.requires_grad]
    return [
        {"params": [p for p in trainable if p.ndim >= 2]},
        {"params": [p for p in trainable if p.ndim <= 1], "weight_decay": 0.0},
    ]
