from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = Path(os.environ.get("MSFM_SHARED_DIR", REPO_ROOT.parent / "shared"))


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(scope="session", autouse=True)
def _demo_data_in_temporary_folders(tmp_path_factory):
    """Bundle runs under test generate their demo data in pytest's temporary folders, not the project's data/."""
    os.environ["MSFM_DEMO_DATA_ROOT"] = str(tmp_path_factory.getbasetemp())
    yield
    os.environ.pop("MSFM_DEMO_DATA_ROOT", None)


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory) -> Path:
    """A small demo corpus shared by the tests of a session."""
    from msfm.demo import make_demo_dataset

    out = tmp_path_factory.mktemp("demo")
    make_demo_dataset(out, n=64, seed=1, image_size=64)
    return out
