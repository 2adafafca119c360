"""A pre-resized copy of a prepared dataset: 8-bit PNGs whose longest side is a chosen size, with datalists that
point to them, so that epochs at MIMIC-CXR scale read small files instead of decoding full-size DICOMs and JPEGs.

The images are written by the same reader and intensity policy as training (:func:`msfm.data.read_radiograph`)
and shrunk with area interpolation, as the workflow's letterbox resize does; masks with nearest neighbour; boxes
(``[x, y, w, h]`` in pixels) are scaled with their image. An 8-bit PNG read back gives the tensor the original
would have given, up to the 1/255 rounding of the stored grey levels.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch
from monai.utils import optional_import

from msfm.data.io import read_radiograph

Image, _ = optional_import("PIL.Image")
tqdm, _ = optional_import("tqdm", name="tqdm")

__all__ = ["resize_radiograph", "write_resized_dataset"]

logger = logging.getLogger(__name__)


def resize_radiograph(path: str | os.PathLike, size: int, nearest: bool = False) -> tuple[np.ndarray, float]:
    """A radiograph (or mask, with ``nearest``) shrunk so that its longest side is at most ``size``, as uint8.

    Returns:
        the image and the scale factor applied (1.0 for an image already small enough).
    """
    image = read_radiograph(path)
    scale = min(1.0, size / max(image.shape))
    if scale < 1.0:
        shape = tuple(max(1, round(side * scale)) for side in image.shape)
        resized = torch.nn.functional.interpolate(
            torch.from_numpy(image)[None, None], size=shape, mode="nearest" if nearest else "area"
        )
        image = resized[0, 0].numpy()
    if nearest:
        return ((image > 0.5) * 255).astype(np.uint8), scale
    return np.clip(np.rint(image * 255), 0, 255).astype(np.uint8), scale


def _output_path(relative: str) -> str:
    return str(Path(relative).with_suffix(".png"))


def _resize_entry(task: tuple[dict, str, str, int]) -> dict:
    """Write one entry's image (and mask) and return the entry pointing to them."""
    entry, dataset_dir, out_dir, size = task
    entry = dict(entry)
    scale = None
    for key, nearest in (("image", False), ("label", True)):
        value = entry.get(key)
        if not isinstance(value, str):
            continue  # class labels
        target = Path(out_dir) / _output_path(value)
        entry[key] = _output_path(value)
        if target.is_file() and not (key == "image" and entry.get("boxes")):
            continue  # written by an earlier, interrupted run
        pixels, factor = resize_radiograph(Path(dataset_dir) / value, size, nearest)
        scale = factor if key == "image" else scale
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".partial.png")  # renamed when complete: a killed run leaves no torn file
        Image.fromarray(pixels).save(partial, compress_level=1)  # fast to write, fast to read
        os.replace(partial, target)
    if entry.get("boxes") and scale is not None:
        entry["boxes"] = [[v * scale for v in box] for box in entry["boxes"]]
    return entry


def write_resized_dataset(
    datalists: Sequence[str | os.PathLike],
    dataset_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    size: int = 256,
    workers: int = 1,
) -> dict:
    """Write 8-bit PNG copies of every image (and mask) that ``datalists`` name, at longest side ``size``, under
    ``out_dir`` (same relative paths, ``.png`` suffix), and each datalist with its entries pointing to them; use
    ``out_dir`` as the bundles' ``dataset_dir``.

    Args:
        datalists: prepared datalists (``datalist.json``, ``datalist_<pct>.json``) of one dataset; their paths
            are relative to ``dataset_dir``.
        dataset_dir: the dataset root they are relative to.
        out_dir: where the copies and the new datalists go (the datalists under their own names).
        size: longest side, in pixels; at least the bundles' ``image_size``.
        workers: processes.

    Returns:
        counts: ``{"images": n, "datalists": m}``.

    Raises:
        ValueError: naming the file, when an image cannot be read (from :func:`msfm.data.read_radiograph`), or when
            ``out_dir`` is ``dataset_dir`` (originals are never overwritten) or holds a copy at another size. An
            interrupted run resumes: images already written are kept.
    """
    out_dir, dataset_dir = Path(out_dir), Path(dataset_dir)
    if out_dir.resolve() == dataset_dir.resolve():
        raise ValueError(f"{out_dir}: the resized copy must go to another folder than the dataset")
    marker = out_dir / "resized.json"
    if marker.is_file() and json.loads(marker.read_text())["longest_side"] != size:
        raise ValueError(
            f"{out_dir} holds a copy at longest side {json.loads(marker.read_text())['longest_side']}: choose another "
            f"folder for longest side {size}"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps({"longest_side": size, "from": os.fspath(dataset_dir)}))
    contents = {Path(path): json.loads(Path(path).read_text()) for path in datalists}
    unique: dict[str, dict] = {}
    for content in contents.values():
        for value in content.values():
            if isinstance(value, list) and value and isinstance(value[0], dict):
                unique.update({json.dumps(entry, sort_keys=True): entry for entry in value})
    tasks = [(entry, str(dataset_dir), str(out_dir), size) for entry in unique.values()]
    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            resized = list(tqdm(pool.map(_resize_entry, tasks, chunksize=16), total=len(tasks), desc="resizing"))
    else:
        resized = [_resize_entry(task) for task in tqdm(tasks, desc="resizing")]
    mapping = dict(zip(unique, resized))
    for path, content in contents.items():
        for key, value in content.items():
            if isinstance(value, list) and value and isinstance(value[0], dict):
                content[key] = [mapping[json.dumps(entry, sort_keys=True)] for entry in value]
        (out_dir / path.name).write_text(json.dumps(content, indent=2))
    logger.info(f"wrote {len(resized)} resized entries and {len(contents)} datalists to {out_dir}")
    return {"images": len(resized), "datalists": len(contents)}
