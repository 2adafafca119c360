"""Reading radiographs (DICOM, PNG, JPG) as grey images in display orientation."""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Sequence

import numpy as np
from monai.data import ImageReader, PILWriter
from monai.utils import MetaKeys, ensure_tuple, optional_import

from msfm.data.privacy import withheld_library_messages

pydicom, _ = optional_import("pydicom")
# pydicom 3 moved the LUT functions to pydicom.pixels; 2.4 (which MONAI Label's pydicom-seg needs) has them here
pydicom_pixels, _has_pixels = optional_import("pydicom.pixels")
if not _has_pixels:
    pydicom_pixels, _ = optional_import("pydicom.pixel_data_handlers.util")
optional_import("pydicom.encaps")
Image, _ = optional_import("PIL.Image")

__all__ = ["read_radiograph", "RadiographReader", "RadiographPNGWriter", "is_dicom", "make_dicom"]


def is_dicom(path: str | os.PathLike) -> bool:
    """True when the file carries the DICOM preamble marker, whatever its extension."""
    with open(path, "rb") as f:
        f.seek(128)
        return f.read(4) == b"DICM"


def make_dicom(pixels: np.ndarray, jpeg: bool = False, photometric: str = "MONOCHROME2"):
    """A minimal single-frame secondary-capture DICOM dataset of ``pixels`` (``[rows, columns]``, uint8 or uint16),
    for demos, benchmarks and tests. With ``jpeg``, 8-bit pixels are stored JPEG Baseline compressed
    (transfer syntax 1.2.840.10008.1.2.4.50), like the public RSNA and SIIM files. New study and series UIDs; the
    Type 2 Patient and Study attributes are present and empty (no patient data is set).

    Returns:
        a ``pydicom.Dataset``; write it with ``save_as(path, enforce_file_format=True)``.
    """
    if jpeg and pixels.dtype != np.uint8:
        raise ValueError("JPEG Baseline holds 8-bit pixels only.")
    meta = pydicom.dataset.FileMetaDataset()
    meta.MediaStorageSOPClassUID = pydicom.uid.SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = pydicom.uid.generate_uid()
    meta.TransferSyntaxUID = pydicom.uid.JPEGBaseline8Bit if jpeg else pydicom.uid.ExplicitVRLittleEndian
    ds = pydicom.Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = pydicom.uid.generate_uid(), pydicom.uid.generate_uid()
    ds.SeriesNumber, ds.InstanceNumber = 1, 1
    type2 = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate", "StudyTime")
    for keyword in (*type2, "ReferringPhysicianName", "StudyID", "AccessionNumber"):
        setattr(ds, keyword, "")  # Type 2 Patient/Study attributes: present, empty
    ds.Modality, ds.Rows, ds.Columns = "CR", *pixels.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, photometric
    bits = pixels.dtype.itemsize * 8
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = bits, bits, bits - 1, 0
    if jpeg:
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, format="JPEG", quality=95)
        ds.PixelData = pydicom.encaps.encapsulate([buffer.getvalue()])
        ds["PixelData"].VR = "OB"
        ds.LossyImageCompression = "01"
    else:
        ds.PixelData = pixels.tobytes()
    return ds


def _full_scale(pixels: np.ndarray, bits: int) -> np.ndarray:
    return pixels.astype(np.float32) / float(2**bits - 1)


def _own_range(image: np.ndarray) -> np.ndarray:
    image = image.astype(np.float32)
    low, high = float(image.min()), float(image.max())
    return (image - low) / (high - low) if high > low else np.zeros_like(image)


@withheld_library_messages(level=logging.DEBUG)  # pydicom's warnings may quote header values
def _read_dicom(path: str | os.PathLike) -> np.ndarray:
    dataset = pydicom.dcmread(path)
    pixels = dataset.pixel_array
    if pixels.ndim != 2:
        raise ValueError(f"expected a single-frame grey image, got pixel array of shape {pixels.shape}")
    bits = int(dataset.get("BitsStored", pixels.dtype.itemsize * 8))
    windowed = "VOILUTSequence" in dataset or "WindowCenter" in dataset
    rescaled = "ModalityLUTSequence" in dataset or (
        float(dataset.get("RescaleSlope", 1) or 1), float(dataset.get("RescaleIntercept", 0) or 0)
    ) != (1.0, 0.0)
    if bits <= 8 and not (windowed or rescaled):
        image = _full_scale(pixels, bits)  # as an 8-bit PNG or JPEG of the same pixels
    else:
        image = pydicom_pixels.apply_modality_lut(pixels, dataset)  # RescaleSlope / Intercept, Modality LUT
        if windowed:
            image = pydicom_pixels.apply_voi_lut(image, dataset)
        image = _own_range(image)
    if dataset.get("PhotometricInterpretation", "MONOCHROME2") == "MONOCHROME1":
        image = 1.0 - image  # MONOCHROME1 stores inverted grey
    return image


def _read_bitmap(path: str | os.PathLike) -> np.ndarray:
    with Image.open(path) as img:
        if img.mode in ("I;16", "I;16B", "I;16L", "I"):
            image = _own_range(np.asarray(img))  # wider than 8 bits, and no window to apply
        else:
            if img.mode in ("RGBA", "LA", "P"):
                img = img.convert("RGBA")
            image = np.asarray(img.convert("L"), dtype=np.float32) / 255.0
    return image


def read_radiograph(path: str | os.PathLike) -> np.ndarray:
    """Read a radiograph as ``[H, W]`` float32 grey in ``[0, 1]``, rows top to bottom as displayed.

    One intensity policy, whatever the container (DICOM detected by content; PNG/JPG by any extension):

    - 8-bit data is divided by its full scale (255): an 8-bit DICOM and a PNG or JPEG of the same pixels give the
      same image, so a model pretrained on MIMIC-CXR-JPG sees RSNA and SIIM DICOMs as it saw its training data;
    - data wider than 8 bits, or with a modality rescale, a VOI LUT or a window, goes through the modality LUT
      and the VOI LUT or window when the header has one, and is then scaled to its own range (16-bit PNGs, which
      carry no window, too);
    - MONOCHROME1 is inverted; L, RGB and RGBA bitmaps become grey.

    Args:
        path: the image file.

    Returns:
        the image.

    Raises:
        FileNotFoundError: when the file does not exist.
        ValueError: naming the file, when it cannot be decoded.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"image file not found: {path}")
    try:
        return _read_dicom(path) if is_dicom(path) else _read_bitmap(path)
    except Exception as error:
        raise ValueError(f"{path}: cannot decode image ({type(error).__name__}: {error})") from error


class RadiographReader(ImageReader):
    """MONAI image reader built on :func:`read_radiograph`, for ``LoadImage(reader=RadiographReader())``.

    Unlike MONAI's PIL and pydicom readers, arrays are ``(rows, columns)`` (display orientation), so masks and
    boxes drawn on the displayed image line up with the array without transposition.
    """

    def verify_suffix(self, filename: Sequence[str | os.PathLike] | str | os.PathLike) -> bool:
        # the format is detected from the content, not the extension
        return True

    def read(self, data: Sequence[str | os.PathLike] | str | os.PathLike, **kwargs) -> list[np.ndarray]:
        return [read_radiograph(path) for path in ensure_tuple(data)]

    def get_data(self, img: list[np.ndarray]) -> tuple[np.ndarray, dict]:
        if len(img) != 1:
            raise ValueError("RadiographReader reads one image per call.")
        image = img[0]
        meta = {
            MetaKeys.SPATIAL_SHAPE: np.asarray(image.shape),
            MetaKeys.ORIGINAL_CHANNEL_DIM: float("nan"),
            MetaKeys.AFFINE: np.eye(3),
            MetaKeys.ORIGINAL_AFFINE: np.eye(3),
        }
        return image, meta


class RadiographPNGWriter(PILWriter):
    """PNG writer for arrays in display orientation ``(rows, columns)``, as :class:`RadiographReader` returns
    them (MONAI's ``PILWriter`` assumes PIL's ``(W, H)`` reading order and transposes): a mask written by it
    overlays its source image when both are opened in any viewer."""

    def write(self, filename: os.PathLike | str, verbose: bool = False, **kwargs) -> None:
        super().write(filename, verbose=verbose, reverse_indexing=False, **kwargs)
