"""RSNA Pneumonia Detection → binary classification datalists with boxes."""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

from msfm.data.datasets.common import ErrorPolicy, find_file, fit_box, protocol_size, read_csv, split_off
from msfm.data.datasets.dicom_header import image_size

__all__ = ["prepare_rsna"]

# images per split in the label-fraction protocol (REFERENCE §2), of the 29,684 labelled stage-2 images
PROTOCOL = {"training": 25184, "validation": 1500, "test": 3000}


def prepare_rsna(
    root: str | os.PathLike,
    errors: ErrorPolicy,
    seed: int = 0,
    validation_size: int | None = None,
    test_size: int | None = None,
) -> dict:
    """One entry per ``patientId``: ``label`` = [Target] and ``boxes`` = its ``[x, y, w, h]`` rows.

    The official test labels are not public, so the labelled training set is split (stratified by Target) into
    training, validation and test.

    Args:
        root: directory with ``stage_2_train_labels.csv`` and ``stage_2_train_images/<patientId>.dcm``.
        errors: the error policy (missing or unreadable DICOM, box outside the image, inconsistent rows).
        seed: seed of the splits.
        validation_size: images in the validation split (default: the protocol's 1,500, in proportion for a
            smaller set; :func:`~msfm.data.datasets.common.protocol_size`).
        test_size: images in the test split (default: the protocol's 3,000, likewise).
    """
    root = Path(root)
    labels_csv = find_file(root, "stage_2_train_labels.csv", "stage_1_train_labels.csv")
    grouped: dict[str, list[dict]] = defaultdict(list)
    for row in read_csv(labels_csv, ["patientId", "x", "y", "width", "height", "Target"]):
        grouped[row["patientId"]].append(row)
    entries = []
    for patient_id, rows in grouped.items():
        image = f"stage_2_train_images/{patient_id}.dcm"
        targets = {row["Target"] for row in rows}
        if len(targets) != 1 or targets - {"0", "1"}:
            errors.report(labels_csv, f"patientId {patient_id}: inconsistent Target values {sorted(targets)}")
            continue
        size = image_size(root / image, errors)
        if size is None:
            continue
        height, width = size
        boxes = [[float(row[k]) for k in ("x", "y", "width", "height")] for row in rows if row["Target"] == "1"]
        fitted = [fit_box(box, width, height) for box in boxes]
        if None in fitted:
            outside = boxes[fitted.index(None)]
            errors.report(labels_csv, f"patientId {patient_id}: box {outside} outside the {width}x{height} image")
            continue
        entries.append({"image": image, "label": [float(targets.pop())], "boxes": fitted})
    stratum = lambda e: e["label"][0]  # noqa: E731
    total = PROTOCOL["training"] + PROTOCOL["validation"] + PROTOCOL["test"]
    test_size = protocol_size(test_size, PROTOCOL["test"], total, len(entries), "test")
    validation_size = protocol_size(validation_size, PROTOCOL["validation"], total, len(entries), "validation")
    rest, test = split_off(entries, test_size, seed, stratum)
    training, validation = split_off(rest, validation_size, seed + 1, stratum)
    return {
        "splits": {"training": training, "validation": validation, "test": test},
        "classes": ["Pneumonia"],
        "stratum": stratum,
    }
