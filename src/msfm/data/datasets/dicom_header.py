"""Reading DICOM headers for preparation, without pixels and without logging identifiers."""

from __future__ import annotations

from pathlib import Path

from monai.utils import optional_import

from msfm.data.datasets.common import ErrorPolicy

pydicom, _ = optional_import("pydicom")

__all__ = ["image_size"]


def image_size(path: Path, errors: ErrorPolicy) -> tuple[int, int] | None:
    """``(Rows, Columns)`` of a DICOM file, or None after reporting a missing or unreadable file."""
    if not path.exists():
        errors.report(path, "image file not found")
        return None
    try:
        header = pydicom.dcmread(path, stop_before_pixels=True)
        return int(header.Rows), int(header.Columns)
    except Exception as error:  # only the error type and the file name: the header may hold identifiers
        errors.report(path, f"unreadable DICOM header ({type(error).__name__})")
        return None
