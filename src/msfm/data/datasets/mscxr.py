"""MS-CXR → phrase-grounding datalists: one entry per (image, phrase) with all its boxes."""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

from msfm.data.datasets.common import ErrorPolicy, find_file, fit_box, read_csv

__all__ = ["prepare_mscxr", "MSCXR_CATEGORIES"]

MSCXR_CATEGORIES = (
    "Atelectasis", "Cardiomegaly", "Consolidation", "Edema", "Lung Opacity", "Pleural Effusion", "Pneumonia",
    "Pneumothorax",
)  # fmt: skip
_SPLITS = {"train": "training", "val": "validation", "validation": "validation", "test": "test"}


def prepare_mscxr(root: str | os.PathLike, errors: ErrorPolicy, annotations: str | os.PathLike | None = None) -> dict:
    """Merge MS-CXR box rows into ``{image, phrase, category, boxes}`` entries.

    Args:
        root: MIMIC-CXR-JPG root (the ``path`` column is relative to it).
        errors: the error policy (missing image, box outside the image).
        annotations: the MS-CXR CSV; default ``root/MS_CXR_Local_Alignment_v1.1.0.csv`` or ``..._v1.0.0.csv``.

    Returns:
        splits from the v1.1.0 ``split`` column; with v1.0.0 (no split) every entry is in ``test``.
    """
    root = Path(root)
    csv_path = (
        Path(annotations)
        if annotations
        else find_file(root, "MS_CXR_Local_Alignment_v1.1.0.csv", "MS_CXR_Local_Alignment_v1.0.0.csv")
    )
    columns = ["dicom_id", "category_name", "label_text", "path", "x", "y", "w", "h", "image_width", "image_height"]
    grouped: dict[tuple[str, str], dict] = {}
    rejected: set[tuple[str, str]] = set()
    for row in read_csv(csv_path, columns):
        key = (row["dicom_id"], row["label_text"])
        if key in rejected:
            continue
        box = [float(row[k]) for k in ("x", "y", "w", "h")]
        width, height = float(row["image_width"]), float(row["image_height"])
        fitted = fit_box(box, width, height)
        if fitted is None:
            errors.report(csv_path, f"dicom_id {row['dicom_id']}: box {box} outside the {width:g}x{height:g} image")
            rejected.add(key)
            grouped.pop(key, None)
            continue
        if key not in grouped:
            if not (root / row["path"]).exists():
                errors.report(root / row["path"], "image file not found")
                rejected.add(key)
                continue
            split = _SPLITS.get(row.get("split", "test").strip().lower(), "test")
            grouped[key] = {
                "image": row["path"],
                "phrase": row["label_text"],
                "category": row["category_name"],
                "boxes": [],
                "split": split,
            }
        grouped[key]["boxes"].append(fitted)
    splits: dict[str, list[dict]] = defaultdict(list)
    for entry in grouped.values():
        splits[entry.pop("split")].append(entry)
    return {"splits": {name: splits.get(name, []) for name in ("training", "validation", "test")}}
