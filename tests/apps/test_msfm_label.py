"""The real MONAI Label server with apps/msfm_label on 127.0.0.1: infer over REST (PNG from the datastore, DICOM by
file) against the bundles' own inference, and fine-tune msfm_seg with MONAI Label's bundle training task."""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
import torch
from PIL import Image

from msfm.demo import synthesize_case
from msfm.deploy import BundlePredictor
from tests.bundles.helpers import bundle_command, run
from tests.conftest import REPO_ROOT
from tests.deploy.fixtures import TINY as DEPLOY_TINY
from tests.deploy.fixtures import save_seeded_weights, write_chest_radiograph

LABEL_ENV = REPO_ROOT / ".venv-label" / "bin"
TINY = {**DEPLOY_TINY, "num_workers": 0, "batch_size": 2, "epoch_length": 2}

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (LABEL_ENV / "monailabel").exists(),
        reason="MONAI Label environment missing: bash scripts/setup_monailabel.sh (or setup_env.sh --with-monailabel)",
    ),
]


def tiny_bundle(root: Path, name: str, **extra) -> Path:
    """A copy of the bundle's configs with a ``tiny.json`` override and a seeded random ``models/model.pt``."""
    bundle = root / name
    shutil.copytree(REPO_ROOT / "bundles" / name / "configs", bundle / "configs")
    if not (root / "common").exists():
        shutil.copytree(REPO_ROOT / "bundles" / "common", root / "common")
    # fp32: the server's torch build and this one must agree to the pixel, and their bf16 kernels may not
    (bundle / "configs" / "tiny.json").write_text(json.dumps({**TINY, "amp": False, **extra}, indent=4) + "\n")
    configs = [str(root / "common" / "configs" / "workflow.json")]
    configs += [str(bundle / "configs" / n) for n in ("inference.json", "tiny.json")]
    save_seeded_weights(configs, bundle / "models" / "model.pt", seed=1)
    return bundle


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("label")
    bundles = root / "bundles"
    tiny_bundle(bundles, "msfm_seg", **{"network_def#feature_size": 8, "threshold": 0.5})
    tiny_bundle(bundles, "msfm_cls", class_names=["a", "b", "c"])
    studies = root / "studies"
    studies.mkdir()
    for index in range(2):
        image = synthesize_case(np.random.default_rng(index), size=96)[0][:, :80]  # 96 rows x 80 columns
        Image.fromarray((image * 255).astype(np.uint8)).save(studies / f"case_{index}.png")
    port = free_port()
    env = {**os.environ, "PATH": f"{LABEL_ENV}:{os.environ['PATH']}", "MONAI_LABEL_DATASTORE_AUTO_RELOAD": "false"}
    command = [
        str(LABEL_ENV / "monailabel"),
        "start_server",
        "--app",
        str(REPO_ROOT / "apps" / "msfm_label"),
        "--studies",
        str(studies),
        "--conf",
        "bundles",
        str(bundles),
        "--conf",
        "configs",
        "tiny.json",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    log = (root / "server.log").open("w")
    process = subprocess.Popen(command, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(180):
            if process.poll() is not None:
                break
            try:
                if httpx.get(f"{url}/info/", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(1)
        else:
            pytest.fail("MONAI Label did not start:\n" + (root / "server.log").read_text()[-3000:])
        assert process.poll() is None, (root / "server.log").read_text()[-3000:]
        yield {"url": url, "bundles": bundles, "studies": studies, "root": root}
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def infer(server, model: str, image: str) -> httpx.Response:
    response = httpx.post(
        f"{server['url']}/infer/{model}",
        params={"image": image, "output": "image"},
        files={"params": (None, "{}")},
        timeout=120,
    )
    assert response.status_code == 200, response.text[-2000:]
    return response


def predictor(server, name: str) -> BundlePredictor:
    configs = server["bundles"] / name / "configs"
    return BundlePredictor.from_checkpoint(
        [server["bundles"] / "common" / "configs" / "workflow.json", configs / "inference.json", configs / "tiny.json"],
        server["bundles"] / name / "models" / "model.pt",
    )


def test_info_lists_the_local_bundles(server):
    info = httpx.get(f"{server['url']}/info/", timeout=10).json()
    assert set(info["models"]) == {"msfm_seg", "msfm_cls"} and list(info["trainers"]) == ["msfm_seg"]
    assert info["models"]["msfm_seg"]["dimension"] == 2 and info["models"]["msfm_cls"]["type"] == "classification"


def test_segmentation_mask_equals_the_bundle_inference(server, tmp_path):
    response = infer(server, "msfm_seg", "case_0")
    served = np.asarray(Image.open(io.BytesIO(response.content))) > 0
    settings = [
        f"--{k}={v}"
        for k, v in {
            **TINY,
            "amp": False,
            "network_def#feature_size": 8,
            "output_dir": tmp_path,
            "ckpt_path": server["bundles"] / "msfm_seg" / "models" / "model.pt",
        }.items()
    ]
    data = f"--infer#dataset#data=$[{{'image': '{server['studies'] / 'case_0.png'}'}}]"
    files = f"['{REPO_ROOT / 'bundles/common/configs/workflow.json'}','{REPO_ROOT / 'bundles/msfm_seg/configs/inference.json'}']"
    run([*bundle_command(files, "inferring", bundle="msfm_seg"), *settings, data])
    bundle = np.asarray(Image.open(tmp_path / "masks" / "case_0_mask.png")) > 0
    assert served.shape == bundle.shape == (96, 80)
    assert 0.0 < bundle.mean() < 1.0, "a constant mask would not test the orientation"
    np.testing.assert_array_equal(served, bundle)


def test_dicom_by_file(server, tmp_path):
    dicom = write_chest_radiograph(tmp_path / "cr.dcm")
    served = np.asarray(Image.open(io.BytesIO(infer(server, "msfm_seg", str(dicom)).content))) > 0
    expected = np.asarray(predictor(server, "msfm_seg")(dicom)["pred"][0]) > 0
    assert served.shape == (120, 96)
    np.testing.assert_array_equal(served, expected)


def test_classification_scores_equal_the_bundle(server):
    response = httpx.post(
        f"{server['url']}/infer/msfm_cls",
        params={"image": "case_1", "output": "json"},
        files={"params": (None, "{}")},
        timeout=120,
    )
    assert response.status_code == 200, response.text[-2000:]
    served = [p["score"] for p in response.json()["prediction"]]
    expected = predictor(server, "msfm_cls")(server["studies"] / "case_1.png")["pred"]
    assert served == pytest.approx(np.asarray(expected).tolist(), abs=1e-5)


def test_bundle_training_task_fine_tunes_the_segmentation_bundle(server):
    for index in range(2):
        mask = np.zeros((96, 80), np.uint8)
        mask[10:40, 5 + 10 * index : 30 + 10 * index] = 1
        path = server["root"] / f"label_{index}.png"
        Image.fromarray(mask).save(path)
        with path.open("rb") as f:
            response = httpx.put(
                f"{server['url']}/datastore/label",
                params={"image": f"case_{index}", "tag": "final"},
                files={"label": (path.name, f, "image/png")},
                timeout=30,
            )
        assert response.status_code == 200, response.text
    model = server["bundles"] / "msfm_seg" / "models" / "model.pt"
    before = torch.load(model, weights_only=True)
    response = httpx.post(
        f"{server['url']}/train/msfm_seg",
        params={"run_sync": True},
        json={"max_epochs": 2, "val_split": 0.5, "device": "cpu"},
        timeout=600,
    )
    assert response.status_code == 200, response.text[-2000:]
    after = torch.load(model, weights_only=True)
    after = after.get("model", after)
    assert any(not torch.equal(before[k], after[k]) for k in before)
    curves = json.loads((server["bundles"] / "msfm_seg" / "runs" / "train" / "curves.json").read_text())
    assert sorted(curves["train_loss"]) == ["1", "2"] and sorted(curves["val_dice"]) == ["1", "2"]
