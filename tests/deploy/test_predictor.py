"""Inference from the exported TorchScript alone matches the checkpoint; masks come back in the source grid."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from msfm.data import read_radiograph
from msfm.deploy import BundlePredictor
from tests.deploy.fixtures import export_tiny_model, write_chest_radiograph


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    return {
        "msfm_seg": export_tiny_model("msfm_seg", root / "seg", **{"network_def#feature_size": 8}),
        "msfm_cls": export_tiny_model("msfm_cls", root / "cls", class_names=["a", "b", "c"]),
    }


@pytest.mark.parametrize("bundle", ["msfm_seg", "msfm_cls"])
def test_torchscript_alone_matches_the_checkpoint(models, bundle, tmp_path):
    files = models[bundle]
    scripted = BundlePredictor.from_torchscript(files["ts"], ("workflow.json", "inference.json", "tiny.json"))
    eager = BundlePredictor.from_checkpoint(files["configs"], files["checkpoint"], files["metadata"])
    assert scripted.metadata["version"] == eager.metadata["version"]
    image = write_chest_radiograph(tmp_path / "cr.dcm")
    inputs = scripted.preprocessing({"image": str(image)})["image"][None]
    assert inputs.shape[-2:] == (32, 32)
    with torch.no_grad():
        assert torch.allclose(scripted.network(inputs), eager.network(inputs), atol=1e-4)
    scripted_pred, eager_pred = scripted(image)["pred"], eager(image)["pred"]
    assert torch.allclose(torch.as_tensor(scripted_pred), torch.as_tensor(eager_pred), atol=1e-4)
    if bundle == "msfm_seg":
        assert tuple(scripted_pred.shape[-2:]) == read_radiograph(image).shape == (120, 96)
        assert set(np.unique(np.asarray(scripted_pred))) <= {0.0, 1.0}
    else:
        assert scripted_pred.shape == (3,) and bool(((scripted_pred > 0) & (scripted_pred < 1)).all())


def test_missing_model_or_config_is_named(models, tmp_path):
    with pytest.raises(FileNotFoundError, match="absent.ts"):
        BundlePredictor.from_torchscript(tmp_path / "absent.ts")
    with pytest.raises(ValueError, match=r"demo\.json"):
        BundlePredictor.from_torchscript(models["msfm_cls"]["ts"], ("workflow.json", "inference.json", "demo.json"))
