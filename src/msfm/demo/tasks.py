"""Labelled, masked and boxed demo sets for the downstream bundles, in the formats of the dataset preparers.

One pool of synthetic cases (new images, drawn independently of the pretraining corpus, with reports and phrases
from the held-out phrasing bank that pretraining never reads) is split into training, validation and test (800
cases, so that each finding has over 100 positives there), and written as one datalist family per task, each
exactly as :mod:`msfm.data.datasets` writes the real dataset it stands for:

- ``classification``: multi-label over :data:`~msfm.demo.corpus.FINDING_TYPES` (like CheXpert / NIH);
- ``pneumonia``: one binary label, "opacity" standing in for pneumonia (like RSNA), with its boxes;
- ``segmentation``: pneumothorax masks as PNG (like SIIM);
- ``grounding``: a finding's sentence as the phrase, with its box (like MS-CXR);
- ``retrieval``: images with their reports and the names of their findings (like MIMIC-CXR with its CheXpert
  labels).

Each family holds ``datalist.json`` and ``datalist_{1,10,100}.json`` (nested label fractions of the training
split) plus ``summary.json``; paths inside are relative to the pool's directory, the bundles' ``dataset_dir``.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
from filelock import FileLock
from monai.utils import optional_import

from msfm.data.datasets.common import ErrorPolicy, write_datalists
from msfm.demo.corpus import FINDING_TYPES, refuse_foreign_folder, refuse_outside_project_data, synthesize_case

Image, _ = optional_import("PIL.Image")

__all__ = ["DEMO_TASKS", "make_demo_tasks", "ensure_demo_task"]

logger = logging.getLogger(__name__)

DEMO_TASKS = ("classification", "pneumonia", "segmentation", "grounding", "retrieval")
_FRACTIONS = (0.01, 0.1, 1.0)


def _task_entries(image: str, mask: str, report: str, findings: list[dict]) -> dict[str, list[dict]]:
    present = {f["type"] for f in findings}
    opacities = [f["box"] for f in findings if f["type"] == "opacity"]
    return {
        "classification": [{"image": image, "label": [float(kind in present) for kind in FINDING_TYPES]}],
        "pneumonia": [{"image": image, "label": [float(bool(opacities))], "boxes": opacities}],
        "segmentation": [{"image": image, "label": mask}],
        "grounding": [
            {"image": image, "phrase": f["sentence"], "category": f["type"], "boxes": [f["box"]]} for f in findings
        ],
        "retrieval": [{"image": image, "report": report, "findings": sorted(present)}],
    }


def make_demo_tasks(
    out_dir: str | os.PathLike,
    n_train: int = 1000,
    n_validation: int = 200,
    n_test: int = 800,
    seed: int = 1,
    image_size: int = 128,
) -> Path:
    """Write the demo pool (``images/``, ``masks/``) and one datalist family per task of :data:`DEMO_TASKS`.

    Args:
        out_dir: output directory (the bundles' ``dataset_dir``).
        n_train: training cases (the 100 % fraction).
        n_validation: validation cases.
        n_test: test cases.
        seed: seed; keep it apart from the pretraining corpus' seed so the sets differ.
        image_size: side of the square images.

    Returns:
        ``out_dir``.
    """
    out_dir = Path(out_dir)
    for folder in ("images", "masks"):
        (out_dir / folder).mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    sizes = {"training": n_train, "validation": n_validation, "test": n_test}
    splits: dict[str, dict[str, list[dict]]] = {task: {name: [] for name in sizes} for task in DEMO_TASKS}
    index = 0
    for split, count in sizes.items():
        for _ in range(count):
            image, report, findings, regions = synthesize_case(rng, image_size, "held_out")
            name, mask = f"images/case_{index:05d}.png", f"masks/case_{index:05d}.png"
            Image.fromarray((image * 255).round().astype(np.uint8)).save(out_dir / name)
            pneumothorax = regions.get("pneumothorax", np.zeros(image.shape, bool))
            Image.fromarray(pneumothorax.astype(np.uint8) * 255).save(out_dir / mask)
            for task, entries in _task_entries(name, mask, report, findings).items():
                splits[task][split] += entries
            index += 1
    strata = {
        "classification": lambda e: tuple(e["label"]),
        "pneumonia": lambda e: e["label"][0],
        "segmentation": None,
        "grounding": lambda e: e["category"],
        "retrieval": None,
    }
    for task in DEMO_TASKS:
        classes = FINDING_TYPES if task == "classification" else ("opacity",) if task == "pneumonia" else None
        write_datalists(
            out_dir / task, splits[task], _FRACTIONS, seed, ErrorPolicy("raise"), classes, strata[task],
            {"dataset": f"msfm demo ({task})"},
        )
    return out_dir


def ensure_demo_task(dataset_dir: str | os.PathLike, task: str, datalist_name: str = "datalist_100.json") -> str:
    """Path of a demo task's datalist, generating the demo pool first when it is missing.

    Args:
        dataset_dir: the pool's directory.
        task: one of :data:`DEMO_TASKS`.
        datalist_name: ``datalist.json`` or ``datalist_<pct>.json``.

    Raises:
        ValueError: for an unknown task, or when ``dataset_dir`` holds files of another kind or lies outside the
            project's ``data/`` folder (generation never writes where a user's data may be).
    """
    if task not in DEMO_TASKS:
        raise ValueError(f"unknown demo task {task!r}; choose from {DEMO_TASKS}")
    dataset_dir = Path(dataset_dir)
    ready = dataset_dir / DEMO_TASKS[-1] / "summary.json"  # the last file written
    if not ready.exists():
        refuse_outside_project_data(dataset_dir)  # before any folder or lock file is made
        dataset_dir.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(f"{dataset_dir}.lock"):
            if not ready.exists():
                refuse_foreign_folder(dataset_dir)
                logger.info(f"generating the downstream demo sets in {dataset_dir}")
                make_demo_tasks(dataset_dir)
    return os.fspath(dataset_dir / task / datalist_name)

