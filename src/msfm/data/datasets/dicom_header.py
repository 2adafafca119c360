"""Reading DICOM files for preparation: the image size and a cheap integrity check of the pixel data, without
decoding it and without printing identifiers."""

from __future__ import annotations

from pathlib import Path

from monai.utils import optional_import

from msfm.data.datasets.common import ErrorPolicy
from msfm.data.privacy import withheld_library_messages

pydicom, _ = optional_import("pydicom")
encaps, _ = optional_import("pydicom.encaps")

__all__ = ["image_size", "pixel_data_problem"]

_JPEG_END = b"\xff\xd9"  # EOI of JPEG and JPEG-LS, EOC of JPEG 2000


def pixel_data_problem(dataset) -> str | None:
    """What is wrong with a dataset's pixel data, found without decoding it, or None.

    Native syntaxes: fewer bytes than Rows × Columns × SamplesPerPixel × BitsAllocated / 8 × frames. JPEG family
    (encapsulated): a last fragment that does not end with the end-of-image marker, as in a cut file.
    """
    if "PixelData" not in dataset:
        return "no pixel data"
    syntax = dataset.file_meta.TransferSyntaxUID
    if syntax.is_encapsulated:
        fragments = list(encaps.generate_fragments(dataset.PixelData))
        if not fragments:
            return "encapsulated pixel data without fragments"
        jpeg = "JPEG" in syntax.name.upper()
        if jpeg and not fragments[-1].rstrip(b"\x00").endswith(_JPEG_END):
            return "pixel data truncated (the last JPEG fragment has no end-of-image marker)"
        return None
    frames = int(dataset.get("NumberOfFrames", 1) or 1)
    samples, bits = int(dataset.get("SamplesPerPixel", 1)), int(dataset.BitsAllocated)
    expected = int(dataset.Rows) * int(dataset.Columns) * samples * frames * bits // 8
    if len(dataset.PixelData) < expected:
        return f"pixel data truncated ({len(dataset.PixelData)} of {expected} bytes)"
    return None


def image_size(path: Path, errors: ErrorPolicy) -> tuple[int, int] | None:
    """``(Rows, Columns)`` of a DICOM file whose pixel data passes :func:`pixel_data_problem`, or None after
    reporting a missing, unreadable or truncated file (only the file and the problem: never a header value)."""
    if not path.exists():
        errors.report(path, "image file not found")
        return None
    try:
        with withheld_library_messages():
            dataset = pydicom.dcmread(path)
            problem = pixel_data_problem(dataset)
            size = int(dataset.Rows), int(dataset.Columns)
    except Exception as error:  # only the error type and the file name: the header may hold identifiers
        errors.report(path, f"unreadable DICOM file ({type(error).__name__})")
        return None
    if problem:
        errors.report(path, problem)
        return None
    return size
