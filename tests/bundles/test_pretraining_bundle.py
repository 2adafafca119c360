"""End-to-end runs of the pretraining bundle on a tiny setting (subprocesses, about a minute each)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from msfm.handlers import latest_checkpoints
from tests.bundles.helpers import REPO_ROOT, bundle_command, config_list, run, tiny_overrides

LOSS_METRICS = {"loss_total", "loss_global", "loss_local", "loss_instance", "loss_modality_image", "loss_modality_text"}
RECALL_METRICS = {f"val_{d}_R{k}" for d in ("i2t", "t2i") for k in (1, 5, 10)}


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("demo_data")


def trainer_state(path):
    return torch.load(path, map_location="cpu", weights_only=True)["trainer"]


@pytest.mark.slow
def test_training_with_mlflow_then_inference(tmp_path, dataset_dir):
    import mlflow

    configs = config_list("train.json", "demo.json")
    run(bundle_command(configs) + tiny_overrides(tmp_path, dataset_dir) + ["--tracking", "mlflow"])
    assert trainer_state(latest_checkpoints(tmp_path / "out" / "checkpoints")[0])["iteration"] == 10
    assert (tmp_path / "bundle" / "models" / "model.pt").exists()

    client = mlflow.tracking.MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'out' / 'mlruns.db'}")
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    logged = set().union(*(r.data.metrics.keys() for r in runs))
    assert LOSS_METRICS | RECALL_METRICS | {"val_mean_recall"} <= logged, logged
    # retrieval on a sample of training pairs beside validation's, so memorisation shows
    assert {"train_mean_R1", "train_mean_R10", "train_val_gap_R1"} <= logged, logged
    curves = json.loads((tmp_path / "out" / "curves.json").read_text())
    val_r1 = {e: (curves["val_i2t_R1"][e] + curves["val_t2i_R1"][e]) / 2 for e in curves["val_i2t_R1"]}
    gap = {e: curves["train_mean_R1"][e] - val_r1[e] for e in val_r1}
    assert gap == pytest.approx({e: v for e, v in curves["train_val_gap_R1"].items()}, abs=1e-6)

    # the image embedder of inference.json replaces the training network; demo.json, last, gives it the demo sizes
    inference = config_list("train.json", "inference.json", "demo.json")
    run(bundle_command(inference, run_id="inferring") + tiny_overrides(tmp_path, dataset_dir))
    saved = np.load(tmp_path / "out" / "embeddings.npz")
    assert saved["image_emb"].shape == (len(saved["identifiers"]), 128) and len(saved["identifiers"]) > 0
    assert np.allclose(np.linalg.norm(saved["image_emb"], axis=1), 1.0, atol=1e-4)
    assert all(str(i).startswith("images/") for i in saved["identifiers"])


@pytest.mark.slow
def test_killed_mid_epoch_resumes_with_the_same_command(tmp_path, dataset_dir):
    command = bundle_command(config_list("train.json", "demo.json")) + tiny_overrides(
        tmp_path, dataset_dir, max_epochs=4
    )
    ckpt_dir = tmp_path / "out" / "checkpoints"
    process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    killed_at = None
    deadline = time.time() + 300
    while process.poll() is None and time.time() < deadline:
        mid_epoch = [p for p in latest_checkpoints(ckpt_dir) if int(re.findall(r"\d+", p.name)[-1]) % 5]
        if mid_epoch:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
            killed_at = int(re.findall(r"\d+", mid_epoch[0].name)[-1])
            break
        time.sleep(0.02)
    assert killed_at is not None, "the run ended before a mid-epoch checkpoint appeared"

    resumed = run(command)
    log = resumed.stdout + resumed.stderr
    match = re.search(r"resumed from \S+ at epoch (\d+), iteration (\d+)", log)
    assert match, log[-3000:]
    resumed_at = int(match.group(2))
    assert killed_at <= resumed_at < 20  # from the newest checkpoint, not from scratch and not after the end
    assert trainer_state(latest_checkpoints(ckpt_dir)[0])["iteration"] == 20


@pytest.mark.slow
def test_torchrun_two_processes_on_cpu(tmp_path, dataset_dir):
    configs = config_list("train.json", "demo.json", "multi_gpu_train.json")
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nnodes=1", "--nproc_per_node=2"]
    run(bundle_command(configs, launcher=launcher) + tiny_overrides(tmp_path, dataset_dir, max_epochs=1))
    # 43 training cases over 2 ranks of batch 8: 22 each (padded), 2 full batches per rank
    assert trainer_state(latest_checkpoints(tmp_path / "out" / "checkpoints")[0])["iteration"] == 2


def test_paper_scale_without_a_datalist_stops_naming_it_and_writes_nothing(tmp_path):
    command = bundle_command(config_list("train.json"))
    command += [f"--bundle_root={tmp_path / 'bundle'}", f"--output_dir={tmp_path / 'out'}"]
    result = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert "--datalist" in result.stdout + result.stderr
    assert list(tmp_path.iterdir()) == []
