"""One rank of the two-node loopback test: torchrun starts it; it saves its losses and gradient to OUT/rank<r>.pt."""

from __future__ import annotations

import sys

import torch
import torch.distributed as dist

from tests.losses.test_distributed import BATCH, DIM, losses_and_grads, make_data


def save_losses_and_grads(out_dir: str) -> None:
    rank, world_size = dist.get_rank(), dist.get_world_size()
    torch.manual_seed(0)
    model = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(DIM, DIM, bias=False))
    features, regions, sentences, mask = make_data()
    part = slice(rank * BATCH // world_size, (rank + 1) * BATCH // world_size)
    results = losses_and_grads(model, features[part], regions[part], sentences[part], mask[part])
    torch.save(results, f"{out_dir}/rank{rank}.pt")


if __name__ == "__main__":
    dist.init_process_group("gloo")
    # DDP's reducer holds the process group: it is freed when the function returns, so that the group is really
    # torn down here and not at interpreter exit, where gloo's threads can abort ("terminate called without an
    # active exception")
    save_losses_and_grads(sys.argv[1])
    dist.barrier()
    dist.destroy_process_group()
