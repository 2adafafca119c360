from __future__ import annotations

import pytest
import torch

from msfm.optimizers import epoch_warmup_cosine


def test_warmup_and_length_are_counted_in_epochs():
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    schedule = epoch_warmup_cosine(optimizer, warmup_epochs=1, max_epochs=4, steps_per_epoch=list(range(5)))
    assert (schedule.warmup_steps, schedule.t_total) == (5, 20)
    rates = []
    for _ in range(20):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    assert rates[0] < rates[4] and max(rates) == pytest.approx(rates[5], rel=1e-6) and rates[-1] < 0.05
    with pytest.raises(ValueError, match="yields no batch"):
        epoch_warmup_cosine(optimizer, 1, 4, steps_per_epoch=[])
    with pytest.raises(ValueError, match="must be positive, got 0"):
        epoch_warmup_cosine(optimizer, 1, 4, steps_per_epoch=0)
