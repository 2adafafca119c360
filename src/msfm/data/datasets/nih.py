"""NIH ChestX-ray14 → 14-class classification datalists from the official train/val and test lists."""

from __future__ import annotations

import csv
import os
from collections import Counter
from pathlib import Path

import numpy as np

from msfm.data.datasets.common import ErrorPolicy, PreparationError, find_file, first_positive, protocol_size

__all__ = ["prepare_nih", "NIH_CLASSES"]

# the protocol holds out 11,218 of the 89,685 official train/val images for validation (REFERENCE §2)
PROTOCOL_VALIDATION, PROTOCOL_TRAIN_VAL = 11218, 89685

NIH_CLASSES = (
    "Atelectasis", "Cardiomegaly", "Effusion", "Infiltration", "Mass", "Nodule", "Pneumonia", "Pneumothorax",
    "Consolidation", "Edema", "Emphysema", "Fibrosis", "Pleural_Thickening", "Hernia",
)  # fmt: skip


def _read_entries(path: Path) -> list[tuple[str, str, str]]:
    """``(image, labels, patient)`` per row. The header has 9 names but rows have 11 fields (the last two names,
    ``OriginalImage[Width,Height]`` and ``OriginalImagePixelSpacing[x,y]``, hide commas), so fields are taken by
    position after checking the leading names."""
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f)
        header = [name.strip() for name in next(reader, [])]
        if header[:4] != ["Image Index", "Finding Labels", "Follow-up #", "Patient ID"]:
            raise PreparationError(f"{path}: unexpected header {header[:4]}; expected Image Index, Finding Labels, ...")
        rows = []
        for number, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(row) < 4:
                raise PreparationError(f"{path}: line {number} has {len(row)} fields, expected 11")
            rows.append((row[0].strip(), row[1].strip(), row[3].strip()))
        return rows


def _split_patients(
    entries: list[dict], patient_of: dict[str, str], size: int, seed: int
) -> tuple[list[dict], list[dict]]:
    """Hold out whole patients, in a seeded order, until about ``size`` images are held out.

    Not scikit-learn's ``GroupShuffleSplit``: its ``test_size`` counts patients, while the protocol asks for a
    number of images.

    Raises:
        PreparationError: naming the flag, when ``size`` would leave no training image.
    """
    if size >= len(entries):
        raise PreparationError(
            f"cannot hold out {size} of {len(entries)} train/val images for validation: give a smaller "
            "--validation-size and --test-size (or leave them out: a dataset smaller than the protocol's gets its "
            "proportions)"
        )
    patients = sorted(set(patient_of.values()))
    held: set[str] = set()
    count, taken = Counter(patient_of.values()), 0
    for patient in np.random.default_rng(seed).permutation(patients):
        if taken >= size:
            break
        held.add(patient)
        taken += count[patient]
    return (
        [e for e in entries if patient_of[e["image"]] not in held],
        [e for e in entries if patient_of[e["image"]] in held],
    )


def _read_list(path: Path) -> set[str]:
    return {line.strip() for line in path.read_text().splitlines() if line.strip()}


def prepare_nih(
    root: str | os.PathLike, errors: ErrorPolicy, seed: int = 0, validation_size: int | None = None
) -> dict:
    """Multi-hot labels over the 14 findings (``No Finding`` is all zeros).

    Args:
        root: directory with ``Data_Entry_2017.csv``, ``train_val_list.txt``, ``test_list.txt`` and the PNGs in
            ``images/`` (or the ``images_0XX/images/`` folders of the archive).
        errors: the error policy (missing image, unknown label).
        seed: seed of the validation split.
        validation_size: about this many train/val images move to validation, whole patients at a time (no patient
            is in two splits; default: the protocol's 11,218, in proportion for a smaller set).
    """
    root = Path(root)
    rows = _read_entries(find_file(root, "Data_Entry_2017.csv", "Data_Entry_2017_v2020.csv"))
    train_val = _read_list(find_file(root, "train_val_list.txt"))
    test = _read_list(find_file(root, "test_list.txt"))
    locations = {p.name: p for p in root.glob("images*/**/*.png")} or {p.name: p for p in root.glob("**/*.png")}
    sets: dict[str, list[dict]] = {"train_val": [], "test": []}
    patient_of = {}
    for image, labels, patient in rows:
        names = [n.strip() for n in labels.split("|") if n.strip()]
        unknown = [n for n in names if n not in NIH_CLASSES and n != "No Finding"]
        if unknown:
            errors.report(root / image, f"unknown finding label(s) {unknown}")
            continue
        if image not in locations:
            if image in train_val or image in test:
                errors.report(root / "images" / image, "image file not found")
            continue
        entry = {
            "image": locations[image].relative_to(root).as_posix(),
            "label": [float(c in names) for c in NIH_CLASSES],
        }
        if image in test:
            sets["test"].append(entry)
        elif image in train_val:
            sets["train_val"].append(entry)
            patient_of[entry["image"]] = patient
    validation_size = protocol_size(
        validation_size, PROTOCOL_VALIDATION, PROTOCOL_TRAIN_VAL, len(sets["train_val"]), "validation"
    )
    training, validation = _split_patients(sets["train_val"], patient_of, validation_size, seed)
    return {
        "splits": {"training": training, "validation": validation, "test": sets["test"]},
        "classes": list(NIH_CLASSES),
        "stratum": first_positive,
    }
