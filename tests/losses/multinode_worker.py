"""One rank of the two-node loopback test: torchrun starts it; it saves its losses and gradient to OUT/rank<r>.pt."""

from __future__ import annotations

import sys

import torch
import torch.distributed as dist

from tests.losses.test_distributed import rank_losses_and_grads

if __name__ == "__main__":
    dist.init_process_group("gloo")
    torch.save(rank_losses_and_grads(), f"{sys.argv[1]}/rank{dist.get_rank()}.pt")
    dist.barrier()
    dist.destroy_process_group()
