from __future__ import annotations

import re

import pytest
import torch
from ignite.engine import Engine

from msfm.handlers import ResumableCheckpoint, latest_checkpoints


def make_run(ckpt_dir, fail_at=None, interval=3):
    model = torch.nn.Linear(2, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    seen = []

    def step(engine, batch):
        if engine.state.iteration == fail_at:
            raise RuntimeError("simulated crash")
        seen.append(engine.state.iteration)
        optimizer.zero_grad()
        model(batch).sum().backward()
        optimizer.step()

    engine = Engine(step)
    handler = ResumableCheckpoint(ckpt_dir, {"model": model, "optimizer": optimizer}, save_interval=interval)
    handler.attach(engine)
    return engine, model, handler, seen


def test_crash_mid_epoch_then_resume_with_the_same_setup(tmp_path):
    data = [torch.ones(1, 2)] * 5
    engine, model, _, _ = make_run(tmp_path, fail_at=8)
    with pytest.raises(RuntimeError, match="simulated crash"):
        engine.run(data, max_epochs=3)
    saved = latest_checkpoints(tmp_path)
    assert saved and saved[0].name == "checkpoint_7.pt"  # the exception handler saved the last completed iteration
    weights_at_crash = model.weight.detach().clone()

    engine, model, handler, seen = make_run(tmp_path)
    engine.run(data, max_epochs=3)
    assert handler.resumed_from.name == "checkpoint_7.pt"
    assert seen[0] == 8 and engine.state.iteration == 15 and engine.state.epoch == 3
    assert len(seen) == 15 - 7
    assert not torch.equal(model.weight, weights_at_crash)


def test_unreadable_newest_checkpoint_falls_back(tmp_path):
    data = [torch.ones(1, 2)] * 4
    engine, _, _, _ = make_run(tmp_path, interval=2)
    engine.run(data, max_epochs=1)
    newest = latest_checkpoints(tmp_path)[0]
    newest.write_bytes(b"truncated")
    engine, _, handler, _ = make_run(tmp_path, interval=2)
    engine.run(data, max_epochs=2)
    assert handler.resumed_from is not None and handler.resumed_from != newest


def test_resume_false_starts_afresh(tmp_path):
    data = [torch.ones(1, 2)] * 4
    make_run(tmp_path)[0].run(data, max_epochs=1)
    model = torch.nn.Linear(2, 1)
    engine = Engine(lambda e, b: None)
    handler = ResumableCheckpoint(tmp_path, {"model": model}, resume=False)
    handler.attach(engine)
    engine.run(data, max_epochs=1)
    assert handler.resumed_from is None and engine.state.iteration == 4


def test_a_checkpoint_of_another_network_stops_with_its_name(tmp_path):
    data = [torch.ones(1, 2)] * 4
    make_run(tmp_path)[0].run(data, max_epochs=1)
    model = torch.nn.Linear(2, 1)
    model.register_buffer("added_in_a_later_version", torch.zeros(1))
    engine = Engine(lambda e, b: None)
    ResumableCheckpoint(tmp_path, {"model": model}).attach(engine)
    saved = latest_checkpoints(tmp_path)
    names_the_file_and_the_key = f"(?s)cannot resume from {re.escape(str(saved[0]))}.*added_in_a_later_version"
    with pytest.raises(RuntimeError, match=names_the_file_and_the_key):
        engine.run(data, max_epochs=2)
    assert latest_checkpoints(tmp_path) == saved  # the failed start wrote nothing over the resume point


def test_a_checkpoint_beyond_max_epochs_stops_and_is_kept(tmp_path):
    data = [torch.ones(1, 2)] * 4
    make_run(tmp_path)[0].run(data, max_epochs=2)
    saved = latest_checkpoints(tmp_path)
    with pytest.raises(ValueError, match=f"{re.escape(str(saved[0]))} is at epoch 2, beyond max_epochs=1"):
        make_run(tmp_path)[0].run(data, max_epochs=1)
    assert latest_checkpoints(tmp_path) == saved


def test_resumed_runs_keep_n_saved_checkpoints_in_all(tmp_path):
    data = [torch.ones(1, 2)] * 4
    for epochs in (1, 2, 3):
        engine, _, handler, _ = make_run(tmp_path)
        engine.run(data, max_epochs=epochs)
        assert len(latest_checkpoints(tmp_path)) == handler.n_saved == 2
    assert [p.name for p in latest_checkpoints(tmp_path)] == ["checkpoint_12.pt", "checkpoint_9.pt"]
    assert handler.resumed_from.name == "checkpoint_8.pt"
