"""SIIM-ACR Pneumothorax → segmentation datalists with mask files decoded from the run-length encoding."""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

import numpy as np
from monai.utils import optional_import

from msfm.data.datasets.common import ErrorPolicy, PreparationError, find_file, protocol_size, split_off
from msfm.data.datasets.dicom_header import image_size

Image, _ = optional_import("PIL.Image")

__all__ = ["prepare_siim", "decode_rle", "encode_rle", "read_rle_csv"]

# images per split in the label-fraction protocol (REFERENCE §2)
PROTOCOL = {"training": 7969, "validation": 1898, "test": 1904}


def decode_rle(rle: str, rows: int, columns: int) -> np.ndarray:
    """Decode SIIM's relative, column-major run-length encoding into a ``[rows, columns]`` bool mask.

    ``rle`` holds pairs ``(start, length)``; each start counts from the end of the previous run, over the mask
    flattened in column-major order (down the first column, then the next). ``"-1"`` is an empty mask.

    Raises:
        ValueError: when the pairs are malformed or a run goes past the image.
    """
    if rle.strip() == "-1":
        return np.zeros((rows, columns), dtype=bool)
    values = np.asarray(rle.split(), dtype=np.int64)
    if values.size % 2 or (values < 0).any():
        raise ValueError(f"malformed run-length encoding ({values.size} numbers, need non-negative pairs)")
    gaps, lengths = values[0::2], values[1::2]
    starts = np.cumsum(gaps) + np.concatenate([[0], np.cumsum(lengths)[:-1]])
    ends = starts + lengths
    if ends.size and ends.max() > rows * columns:
        raise ValueError(f"a run ends at pixel {int(ends.max())}, past the {columns}x{rows} image")
    flat = np.zeros(rows * columns + 1, dtype=np.int32)
    np.add.at(flat, starts, 1)
    np.add.at(flat, ends, -1)
    return np.cumsum(flat[:-1]).reshape(columns, rows).T > 0


def encode_rle(mask: np.ndarray) -> str:
    """Inverse of :func:`decode_rle` (for fixtures and round trips); ``"-1"`` for an empty mask."""
    flat = np.concatenate([[0], mask.T.reshape(-1).astype(np.int8), [0]])
    changes = np.flatnonzero(np.diff(flat))
    starts, ends = changes[0::2], changes[1::2]
    if starts.size == 0:
        return "-1"
    gaps = starts - np.concatenate([[0], ends[:-1]])
    return " ".join(f"{gap} {length}" for gap, length in zip(gaps, ends - starts))


def read_rle_csv(path: Path) -> dict[str, list[str]]:
    """``ImageId`` → its encodings. Accepts the ``ImageId, EncodedPixels`` header (note the space) and the
    header-less variant with a UTF-8 byte-order mark."""
    grouped: dict[str, list[str]] = defaultdict(list)
    with open(path, encoding="utf-8-sig") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip() or (number == 1 and line.startswith("ImageId")):
                continue
            image_id, separator, rle = line.partition(",")
            if not separator:
                raise PreparationError(f"{path}: line {number} has no ',' between ImageId and EncodedPixels")
            grouped[image_id.strip()].append(rle.strip())
    return grouped


def prepare_siim(
    root: str | os.PathLike,
    out: str | os.PathLike,
    errors: ErrorPolicy,
    seed: int = 0,
    validation_size: int | None = None,
    test_size: int | None = None,
) -> dict:
    """Decode every image's encodings (several rows = several components, ORed) into ``OUT/masks/<ImageId>.png``.

    Masks are 0/255 PNGs with the DICOM's rows and columns, i.e. in the orientation of
    :class:`msfm.data.RadiographReader`. Entries: ``image`` and ``label`` (mask path), both relative to ``root``,
    and ``positive``. The labelled set is split (stratified by ``positive``) into training, validation and test.

    Args:
        root: directory with ``train-rle.csv`` and ``dicom-images-train/<study>/<series>/<SOPInstanceUID>.dcm``.
        out: output directory (masks go to ``out/masks``).
        errors: the error policy (missing or unreadable DICOM, bad encoding).
        seed: seed of the splits.
        validation_size: images in the validation split (default: the protocol's 1,898, in proportion for a
            smaller set; :func:`~msfm.data.datasets.common.protocol_size`).
        test_size: images in the test split (default: the protocol's 1,904, likewise).
    """
    root, out = Path(root), Path(out)
    rle_csv = find_file(root, "train-rle.csv", "train-rle-sample.csv")
    dicoms = {p.stem: p for p in (root / "dicom-images-train").rglob("*.dcm")}
    (out / "masks").mkdir(parents=True, exist_ok=True)
    entries = []
    for image_id, encodings in read_rle_csv(rle_csv).items():
        if image_id not in dicoms:
            errors.report(root / "dicom-images-train" / f"{image_id}.dcm", "image file not found")
            continue
        size = image_size(dicoms[image_id], errors)
        if size is None:
            continue
        try:
            mask = np.logical_or.reduce([decode_rle(rle, *size) for rle in encodings])
        except ValueError as error:
            errors.report(rle_csv, f"ImageId {image_id}: {error}")
            continue
        mask_path = out / "masks" / f"{image_id}.png"
        Image.fromarray(mask.astype(np.uint8) * 255).save(mask_path)
        entries.append(
            {
                "image": dicoms[image_id].relative_to(root).as_posix(),
                "label": os.path.relpath(mask_path, root),
                "positive": bool(mask.any()),
            }
        )
    stratum = lambda e: e["positive"]  # noqa: E731
    total = PROTOCOL["training"] + PROTOCOL["validation"] + PROTOCOL["test"]
    test_size = protocol_size(test_size, PROTOCOL["test"], total, len(entries), "test")
    validation_size = protocol_size(validation_size, PROTOCOL["validation"], total, len(entries), "validation")
    rest, test = split_off(entries, test_size, seed, stratum)
    training, validation = split_off(rest, validation_size, seed + 1, stratum)
    return {"splits": {"training": training, "validation": validation, "test": test}, "stratum": stratum}
