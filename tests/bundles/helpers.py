"""Running the pretraining bundle on a tiny setting."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
CONFIGS = REPO_ROOT / "bundles" / "msfm" / "configs"
WORKFLOW = REPO_ROOT / "bundles" / "common" / "configs" / "workflow.json"


def config_list(*names: str) -> str:
    """A ``--config_file`` list: the common workflow, then the pretraining bundle's ``names``."""
    return "[" + ",".join(f"'{path}'" for path in [WORKFLOW, *(CONFIGS / name for name in names)]) + "]"


def tiny_overrides(tmp_path: Path, dataset_dir: Path, **extra) -> list[str]:
    """Tiny demo run: 48 cases of 32 px, batches of 8 (5 iterations an epoch)."""
    settings = {
        "bundle_root": tmp_path / "bundle",
        "output_dir": tmp_path / "out",
        "dataset_dir": dataset_dir,
        "demo_size": 48,
        "image_size": 32,
        "batch_size": 8,
        "max_epochs": 2,
        "checkpoint_interval": 2,
        **extra,
    }
    return [f"--{key}={value}" for key, value in settings.items()]


def bundle_command(
    configs: str, run_id: str = "training", launcher: list[str] | None = None, bundle: str = "msfm"
) -> list[str]:
    """``monai.bundle run`` with the bundle's metadata and logging (the first config, the common workflow, is not
    in the bundle's folder)."""
    folder = REPO_ROOT / "bundles" / bundle / "configs"
    return [
        *(launcher or [sys.executable]),
        "-m",
        "monai.bundle",
        "run",
        run_id,
        "--config_file",
        configs,
        "--meta_file",
        str(folder / "metadata.json"),
        "--logging_file",
        str(folder / "logging.conf"),
    ]


def run(command: list[str], timeout: int = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env, cwd=REPO_ROOT)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return result
