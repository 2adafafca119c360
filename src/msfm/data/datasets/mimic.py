"""MIMIC-CXR (JPG or DICOM layout) → pretraining datalist of image-report pairs."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

from msfm.data.datasets.common import ErrorPolicy, PreparationError, find_file, read_csv
from msfm.data.reports import clean_report, split_sentences

__all__ = ["prepare_mimic"]

_SPLITS = {"train": "training", "validate": "validation", "test": "test"}


def _study_dir(subject_id: str, study_id: str) -> Path:
    return Path("files") / f"p{subject_id[:2]}" / f"p{subject_id}" / f"s{study_id}"


def prepare_mimic(
    root: str | os.PathLike,
    errors: ErrorPolicy,
    reports_root: str | os.PathLike | None = None,
    views: tuple[str, ...] | None = ("PA", "AP"),
) -> dict:
    """Pair each image of the official split with its study's FINDINGS + IMPRESSION, and, when the root holds
    MIMIC-CXR-JPG's ``mimic-cxr-2.0.0-chexpert.csv[.gz]``, with its study's positive CheXpert labels
    (``findings``: the names labelled 1.0, "No Finding" aside; empty for a normal study), which finding-aware
    retrieval precision compares.

    Args:
        root: MIMIC-CXR-JPG (``files/pXX/pXXXXXXXX/sXXXXXXXX/<dicom_id>.jpg``) or MIMIC-CXR DICOM root, with
            ``mimic-cxr-2.0.0-split.csv[.gz]`` and ``mimic-cxr-2.0.0-metadata.csv[.gz]``.
        errors: the error policy (missing image or report, report without usable text).
        reports_root: root of the ``files/.../sXXXXXXXX.txt`` reports; default ``root``.
        views: ``ViewPosition`` values kept (frontal by default); None keeps all.

    Returns:
        ``{"splits": ..., "summary": ...}`` with ``image`` (relative to ``root``) and ``report`` entries.
    """
    root = Path(root)
    reports_root = Path(reports_root) if reports_root else root
    split_rows = read_csv(
        find_file(root, "mimic-cxr-2.0.0-split.csv", "mimic-cxr-2.0.0-split.csv.gz"),
        ["dicom_id", "study_id", "subject_id", "split"],
    )
    view_of: dict[str, str] = {}
    if views is not None:
        metadata = find_file(root, "mimic-cxr-2.0.0-metadata.csv", "mimic-cxr-2.0.0-metadata.csv.gz")
        view_of = {row["dicom_id"]: row["ViewPosition"] for row in read_csv(metadata, ["dicom_id", "ViewPosition"])}
    findings = _study_findings(root)
    splits: dict[str, list[dict]] = {name: [] for name in _SPLITS.values()}
    filtered: Counter = Counter()
    reports: dict[Path, str | None] = {}
    for row in split_rows:
        if row["split"] not in _SPLITS:
            raise PreparationError(f"unknown split {row['split']!r} for dicom_id {row['dicom_id']}")
        if views is not None and view_of.get(row["dicom_id"]) not in views:
            filtered["view"] += 1
            continue
        study = _study_dir(row["subject_id"], row["study_id"])
        image = next(
            (
                study / f"{row['dicom_id']}{ext}"
                for ext in (".jpg", ".dcm")
                if (root / study / f"{row['dicom_id']}{ext}").exists()
            ),
            None,
        )
        if image is None:
            errors.report(root / study / f"{row['dicom_id']}.jpg", "image file not found")
            continue
        report_path = reports_root / study.with_suffix(".txt")
        if report_path not in reports:
            reports[report_path] = _read_report(report_path, errors, filtered)
        if reports[report_path] is None:
            continue
        entry = {"image": image.as_posix(), "report": reports[report_path]}
        if findings is not None:
            entry["findings"] = findings.get(row["study_id"], [])
        splits[_SPLITS[row["split"]]].append(entry)
    return {"splits": splits, "summary": {"filtered": dict(filtered)}}


def _study_findings(root: Path) -> dict[str, list[str]] | None:
    """study_id → its positive CheXpert labels, from the label file when present."""
    try:
        path = find_file(root, "mimic-cxr-2.0.0-chexpert.csv", "mimic-cxr-2.0.0-chexpert.csv.gz")
    except PreparationError:
        return None
    rows = read_csv(path, ["study_id"])
    labels = [name for name in (rows[0].keys() if rows else []) if name not in ("subject_id", "study_id", "No Finding")]
    return {row["study_id"]: [name for name in labels if row[name].strip() in ("1", "1.0")] for row in rows}


def _read_report(path: Path, errors: ErrorPolicy, filtered: Counter) -> str | None:
    if not path.exists():
        errors.report(path, "report file not found")
        return None
    text = clean_report(path.read_text(encoding="utf-8", errors="replace"))
    if not split_sentences(text):
        filtered["empty_report"] += 1
        errors.report(path, "the report has no usable text after cleaning")
        return None
    return text
