"""CheXpert → multi-label classification datalists (official valid set as the test set)."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

from msfm.data.datasets.common import (
    ErrorPolicy,
    PreparationError,
    first_positive,
    protocol_size,
    read_csv,
    split_off,
)

__all__ = ["prepare_chexpert", "CHEXPERT_14", "CHEXPERT_5", "CHEXPERT_UNCERTAIN_ONES"]

# the protocol moves 5,000 of the 223,414 official training images to validation (REFERENCE §2)
PROTOCOL_VALIDATION, PROTOCOL_TRAIN_POOL = 5000, 223414

CHEXPERT_14 = (
    "No Finding", "Enlarged Cardiomediastinum", "Cardiomegaly", "Lung Opacity", "Lung Lesion", "Edema",
    "Consolidation", "Pneumonia", "Atelectasis", "Pneumothorax", "Pleural Effusion", "Pleural Other", "Fracture",
    "Support Devices",
)  # fmt: skip
CHEXPERT_5 = ("Atelectasis", "Cardiomegaly", "Consolidation", "Edema", "Pleural Effusion")
# the per-class policy of the CheXpert paper's best results: U-ones for these, U-zeros for the rest
CHEXPERT_UNCERTAIN_ONES = ("Atelectasis", "Edema")


def _locate(root: Path) -> tuple[Path, Path]:
    """``(csv_dir, image_root)``: CSV ``Path`` values start with the dataset folder name."""
    for csv_dir in (root / "CheXpert-v1.0-small", root / "CheXpert-v1.0", root):
        if (csv_dir / "train.csv").exists():
            return csv_dir, csv_dir.parent
    raise PreparationError(f"{root}: no CheXpert train.csv found (looked in CheXpert-v1.0-small/, CheXpert-v1.0/, .)")


def _label(value: str, uncertain_one: bool, path: str) -> float:
    if value in ("", "0.0", "0"):
        return 0.0
    if value in ("1.0", "1"):
        return 1.0
    if value in ("-1.0", "-1"):
        return 1.0 if uncertain_one else 0.0
    raise PreparationError(f"{path}: unexpected label value {value!r}")


def prepare_chexpert(
    root: str | os.PathLike,
    errors: ErrorPolicy,
    seed: int = 0,
    label_set: str = "5",
    uncertain_ones: tuple[str, ...] = CHEXPERT_UNCERTAIN_ONES,
    frontal_only: bool = True,
    validation_size: int | None = None,
) -> dict:
    """Label vectors from ``train.csv`` (split into training and validation) and ``valid.csv`` (the test set).

    Args:
        root: directory holding ``CheXpert-v1.0-small/`` (or that folder itself).
        errors: the error policy (missing image file).
        seed: seed of the validation split.
        label_set: ``"5"`` (the competition tasks) or ``"14"`` (all observations).
        uncertain_ones: classes whose uncertain label (-1) becomes 1 (U-ones); the others become 0 (U-zeros).
        frontal_only: keep frontal views only.
        validation_size: training images moved to the validation split (stratified by the first positive class;
            default: the protocol's 5,000, in proportion for a smaller set).
    """
    classes = {"5": CHEXPERT_5, "14": CHEXPERT_14}.get(label_set)
    if classes is None:
        raise ValueError(f"label_set must be '5' or '14', got {label_set!r}")
    unknown = set(uncertain_ones) - set(CHEXPERT_14)
    if unknown:
        raise ValueError(f"unknown CheXpert class(es) in uncertain_ones: {sorted(unknown)}")
    root = Path(root)
    csv_dir, image_root = _locate(root)
    filtered: Counter = Counter()
    sets = {}
    for name in ("train", "valid"):
        entries = []
        csv_path = csv_dir / f"{name}.csv"
        for row in read_csv(csv_path, ["Path", "Frontal/Lateral", *classes]):
            if frontal_only and row["Frontal/Lateral"] != "Frontal":
                filtered["lateral"] += 1
                continue
            if not (image_root / row["Path"]).exists():
                errors.report(image_root / row["Path"], "image file not found")
                continue
            label = [_label(row[c], c in uncertain_ones, f"{csv_path} ({row['Path']}, {c})") for c in classes]
            entries.append({"image": os.path.relpath(image_root / row["Path"], root), "label": label})
        sets[name] = entries
    validation_size = protocol_size(
        validation_size, PROTOCOL_VALIDATION, PROTOCOL_TRAIN_POOL, len(sets["train"]), "validation"
    )
    training, validation = split_off(sets["train"], validation_size, seed, stratum=first_positive)
    return {
        "splits": {"training": training, "validation": validation, "test": sets["valid"]},
        "classes": list(classes),
        "stratum": first_positive,
        "summary": {"filtered": dict(filtered), "uncertain_ones": list(uncertain_ones)},
    }
