"""One rank of the two-node loopback test: torchrun starts it; it saves its losses and gradient to OUT/rank<r>.pt."""

from __future__ import annotations

import sys

import torch
import torch.distributed as dist

from tests.losses.test_distributed import BATCH, DIM, losses_and_grads, make_data

if __name__ == "__main__":
    dist.init_process_group("gloo")
    rank, world_size = dist.get_rank(), dist.get_world_size()
    torch.manual_seed(0)
    model = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(DIM, DIM, bias=False))
    features, regions, sentences, mask = make_data()
    part = slice(rank * BATCH // world_size, (rank + 1) * BATCH // world_size)
    results = losses_and_grads(model, features[part], regions[part], sentences[part], mask[part])
    torch.save(results, f"{sys.argv[1]}/rank{rank}.pt")
    dist.barrier()  # neither rank tears gloo down while the other may still be using it
    dist.destroy_process_group()
