"""Each bundle passes the checks of the MONAI model zoo's ``ci/verify_bundle.py`` in ``full`` mode, run the way the
zoo runs them on a submitted bundle: a copy of the bundle folder alone (no other file of this repository), the
official metadata schema, and fake weights (the seeded initial state of ``network_def``) where none are trained."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from monai.bundle import ConfigParser, ckpt_export, verify_metadata, verify_net_in_out

from tests.bundles.helpers import REPO_ROOT
from tests.conftest import SHARED_DIR

BUNDLES = ["msfm", "msfm_cls", "msfm_seg", "msfm_zeroshot"]
SCHEMA = SHARED_DIR / "monai" / "meta_schema_20240725.json"


@pytest.fixture(params=BUNDLES)
def submitted(request, tmp_path):
    """The bundle as the zoo receives it: ``models/<name>`` with fake weights and the schema in ``eval/``."""
    if not SCHEMA.exists():
        pytest.skip(f"official schema not found at {SCHEMA}")
    bundle = tmp_path / "models" / request.param
    shutil.copytree(REPO_ROOT / "bundles" / request.param, bundle, ignore=shutil.ignore_patterns("runs", "*.pt", "*.ts"))
    (bundle / "eval").mkdir(exist_ok=True)
    shutil.copy(SCHEMA, bundle / "eval" / "schema.json")
    parser = ConfigParser()
    parser.read_config(str(bundle / "configs" / "inference.json"))
    torch.manual_seed(0)
    (bundle / "models").mkdir(exist_ok=True)
    torch.save(parser.get_parsed_content("network_def").state_dict(), bundle / "models" / "model.pt")
    return bundle


def test_bundle_passes_the_model_zoo_checks(submitted, monkeypatch):
    monkeypatch.chdir(submitted.parents[1])  # the zoo runs from its root; nothing else of this repository is there
    configs = submitted / "configs"
    for name in ("configs/metadata.json", "LICENSE", "models/model.pt", "configs/inference.json"):
        assert (submitted / name).is_file(), name
    metadata = json.loads((configs / "metadata.json").read_text())
    assert metadata["version"] in metadata["changelog"]
    verify_metadata(meta_file=str(configs / "metadata.json"), filepath=str(submitted / "eval" / "schema.json"))
    common = {"net_id": "network_def", "meta_file": str(configs / "metadata.json"), "bundle_root": str(submitted)}
    verify_net_in_out(config_file=str(configs / "inference.json"), device="cpu", **common)
    ckpt_export(
        filepath=str(submitted / "models" / "verify_model.ts"),
        ckpt_file=str(submitted / "models" / "model.pt"),
        config_file=str(configs / "inference.json"),
        **common,
    )
    scripted = torch.jit.load(str(submitted / "models" / "verify_model.ts"))
    image = torch.rand(1, 1, *metadata["network_data_format"]["inputs"]["image"]["spatial_shape"])
    output = metadata["network_data_format"]["outputs"]["pred"]
    assert scripted(image).shape[1] == output["num_channels"]
