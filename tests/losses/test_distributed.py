"""Cross-rank gathering: 2 ranks x B/2 give the single-process loss over B, and the same gradients under DDP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from msfm.losses import GlobalAlignmentLoss, LocalAlignmentLoss

BATCH, DIM, REGIONS, SENTENCES = 8, 6, 5, 3


def make_data():
    generator = torch.Generator().manual_seed(0)
    features = torch.randn(BATCH, DIM, generator=generator)
    regions = torch.randn(BATCH, REGIONS, DIM, generator=generator)
    sentences = torch.randn(BATCH, SENTENCES, DIM, generator=generator)
    mask = torch.rand(BATCH, SENTENCES, generator=generator) > 0.3
    mask[:, 0] = True
    return features, regions, sentences, mask


def losses_and_grads(model, features, regions, sentences, mask):
    image_emb, text_emb = model(features), features.flip(1)
    global_loss = GlobalAlignmentLoss()(image_emb, text_emb, 1 / 0.1)
    local_loss = LocalAlignmentLoss()(model(regions), sentences, mask)
    (global_loss + local_loss).backward()
    weight = model.module.weight if hasattr(model, "module") else model.weight
    return global_loss.item(), local_loss.item(), weight.grad.clone()


def rank_losses_and_grads():
    """This rank's losses and gradient under DDP, on its share of the batch. DDP's reducer holds the gloo process
    group and is freed on return, so that ``destroy_process_group`` really tears gloo down: left to interpreter exit,
    gloo's threads can abort ("terminate called without an active exception") after the work is done."""
    rank, world_size = dist.get_rank(), dist.get_world_size()
    torch.manual_seed(0)
    model = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(DIM, DIM, bias=False))
    features, regions, sentences, mask = make_data()
    part = slice(rank * BATCH // world_size, (rank + 1) * BATCH // world_size)
    return losses_and_grads(model, features[part], regions[part], sentences[part], mask[part])


def worker(rank, world_size, port, results):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world_size)
    results[rank] = rank_losses_and_grads()
    dist.barrier()
    dist.destroy_process_group()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_ranks_equal_one_process():
    torch.manual_seed(0)
    single = losses_and_grads(torch.nn.Linear(DIM, DIM, bias=False), *make_data())
    with mp.Manager() as manager:
        results = manager.dict()
        mp.spawn(worker, args=(2, free_port(), results), nprocs=2, join=True)
        ranks = [results[0], results[1]]
    for global_loss, local_loss, grad in ranks:
        assert global_loss == pytest.approx(single[0], abs=1e-6)
        assert local_loss == pytest.approx(single[1], abs=1e-6)
        assert torch.allclose(grad, single[2], atol=1e-6)


def wait_until_listening(port: int, agent: subprocess.Popen, log: Path, timeout: float = 120.0) -> None:
    """Block until something accepts connections on ``127.0.0.1:port``; fail with ``log``'s tail if ``agent`` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if agent.poll() is not None:
            tail = log.read_text()[-4000:]
            pytest.fail(f"the hosting agent exited ({agent.returncode}) before its store listened:\n{tail}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    pytest.fail(f"no rendezvous store on port {port} after {timeout:.0f} s:\n{log.read_text()[-4000:]}")


def test_two_nodes_over_c10d_rendezvous_equal_one_process(tmp_path):
    """Two torchrun agents, as on two machines (``--nnodes 2``, c10d rendezvous on 127.0.0.1, one process each,
    gloo): the contrastive losses and the gradients equal a single process's over the whole batch.

    The first agent hosts the rendezvous store (``is_host=1``) and the second starts once it listens, instead of
    both inferring ``is_host`` from the hostname and racing to bind the port."""
    from tests.conftest import REPO_ROOT

    torch.manual_seed(0)
    single = losses_and_grads(torch.nn.Linear(DIM, DIM, bias=False), *make_data())
    port = free_port()
    launcher = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--nproc_per_node", "1"]
    launcher += ["--rdzv_backend", "c10d", "--rdzv_endpoint", f"127.0.0.1:{port}", "--rdzv_id", f"msfm-test-{port}"]
    launcher += ["--local_addr", "127.0.0.1"]
    env = {**os.environ, "GLOO_SOCKET_IFNAME": "lo", "OMP_NUM_THREADS": "1"}
    agents, logs = [], [tmp_path / f"agent{node}.log" for node in range(2)]
    try:
        for node, log in enumerate(logs):
            command = [*launcher, "--rdzv_conf", f"is_host={int(node == 0)},join_timeout=120"]
            command += ["-m", "tests.losses.multinode_worker", str(tmp_path)]
            with open(log, "wb") as out:
                agents.append(subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT))
            if node == 0:
                wait_until_listening(port, agents[0], log)
        for agent in agents:
            agent.wait(timeout=240)
    finally:
        for agent in agents:
            if agent.poll() is None:
                agent.kill()
                agent.wait()
    failed = {log.name: log.read_text()[-4000:] for agent, log in zip(agents, logs) if agent.returncode != 0}
    assert not failed, failed
    for rank in range(2):
        global_loss, local_loss, grad = torch.load(tmp_path / f"rank{rank}.pt", weights_only=True)
        assert global_loss == pytest.approx(single[0], abs=1e-6)
        assert local_loss == pytest.approx(single[1], abs=1e-6)
        assert torch.allclose(grad, single[2], atol=1e-6)
