"""Preparers that turn the official layouts of public chest X-ray datasets into MONAI datalists."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from tqdm import tqdm

from msfm.data.datasets.chexpert import CHEXPERT_5, CHEXPERT_14, CHEXPERT_UNCERTAIN_ONES, prepare_chexpert
from msfm.data.datasets.common import ErrorPolicy, PreparationError, nested_fractions, read_csv, write_datalists
from msfm.data.datasets.mimic import prepare_mimic
from msfm.data.datasets.mscxr import MSCXR_CATEGORIES, prepare_mscxr
from msfm.data.datasets.nih import NIH_CLASSES, prepare_nih
from msfm.data.datasets.rsna import prepare_rsna
from msfm.data.datasets.siim import decode_rle, encode_rle, prepare_siim
from msfm.data.io import read_radiograph

__all__ = [
    "CHEXPERT_14",
    "CHEXPERT_5",
    "CHEXPERT_UNCERTAIN_ONES",
    "DATASETS",
    "dataset_options",
    "ErrorPolicy",
    "MSCXR_CATEGORIES",
    "NIH_CLASSES",
    "PreparationError",
    "apply_split_files",
    "decode_rle",
    "encode_rle",
    "nested_fractions",
    "prepare_chexpert",
    "prepare_dataset",
    "prepare_mimic",
    "prepare_mscxr",
    "prepare_nih",
    "prepare_rsna",
    "prepare_siim",
    "read_csv",
    "verify_images",
    "write_datalists",
]

DATASETS = ("mimic", "chexpert", "nih", "rsna", "siim", "mscxr")


def apply_split_files(splits: dict[str, list[dict]], split_files: dict[str, str | os.PathLike]) -> dict:
    """Reassign entries to splits from external lists (one image per line: its path relative to the root, its
    file name or its file stem), e.g. to match a published protocol. Entries in no list are dropped.

    Raises:
        PreparationError: when a list names images that the preparation does not have.
    """
    entries = [e for split in splits.values() for e in split]
    reassigned = {}
    for name, list_path in split_files.items():
        wanted = {line.strip() for line in Path(list_path).read_text().splitlines() if line.strip()}
        chosen = [e for e in entries if {e["image"], Path(e["image"]).name, Path(e["image"]).stem} & wanted]
        found = {key for e in chosen for key in (e["image"], Path(e["image"]).name, Path(e["image"]).stem)}
        missing = wanted - found
        if missing:
            raise PreparationError(
                f"{list_path}: {len(missing)} listed image(s) not prepared, e.g. {sorted(missing)[:3]}"
            )
        reassigned[name] = chosen
    return {name: reassigned.get(name, []) for name in ("training", "validation", "test")}


def verify_images(root: Path, splits: dict[str, list[dict]], errors: ErrorPolicy) -> dict[str, list[dict]]:
    """Decode every image (and mask) of the splits; entries whose files do not decode are reported and dropped."""
    kept = {}
    for name, entries in splits.items():
        kept[name] = []
        for entry in tqdm(entries, desc=f"verifying {name} images", leave=False):
            paths = [root / entry["image"]] + ([root / entry["label"]] if isinstance(entry.get("label"), str) else [])
            try:
                for path in paths:
                    read_radiograph(path)
            except (FileNotFoundError, ValueError) as error:
                errors.report(path, str(error).removeprefix(f"{path}: "))
                continue
            kept[name].append(entry)
    return kept


# which dataset takes which command-line setting (the preparers' own keyword arguments)
_SETTINGS = {
    "reports_root": ("mimic",),
    "all_views": ("mimic", "chexpert"),
    "label_set": ("chexpert",),
    "uncertain_ones": ("chexpert",),
    "validation_size": ("chexpert", "nih", "rsna", "siim"),
    "test_size": ("rsna", "siim"),
    "annotations": ("mscxr",),
}


def dataset_options(dataset: str, **settings) -> dict:
    """The ``prepare_<dataset>`` keyword arguments for command-line settings (``None`` or ``False``: not given).

    ``all_views`` keeps lateral views (mimic: ``views=None``, chexpert: ``frontal_only=False``); ``uncertain_ones``
    is a comma-separated class list; the other settings pass through under their own names.

    Raises:
        ValueError: naming a given setting that ``dataset`` does not take, and the datasets that do.
    """
    given = {name: value for name, value in settings.items() if value not in (None, False)}
    for name in given:
        if name not in _SETTINGS:
            raise ValueError(f"unknown setting {name!r}; known: {sorted(_SETTINGS)}")
        if dataset not in _SETTINGS[name]:
            flag = "--" + name.replace("_", "-")
            raise ValueError(f"{flag} does not apply to {dataset}; it is for {', '.join(_SETTINGS[name])}")
    options = {k: v for k, v in given.items() if k not in ("all_views", "uncertain_ones")}
    if dataset == "mimic":
        options["views"] = None if given.get("all_views") else ("PA", "AP")
    if dataset == "chexpert":
        options["frontal_only"] = not given.get("all_views")
        if "uncertain_ones" in given:
            options["uncertain_ones"] = tuple(c.strip() for c in given["uncertain_ones"].split(",") if c.strip())
    return options


def prepare_dataset(
    dataset: str,
    root: str | os.PathLike,
    out: str | os.PathLike,
    seed: int = 0,
    fractions: Sequence[float] = (0.01, 0.1, 1.0),
    on_error: str = "raise",
    split_files: dict[str, str | os.PathLike] | None = None,
    verify: bool = False,
    **options,
) -> dict:
    """Prepare one dataset and write ``OUT/datalist.json``, ``OUT/datalist_<pct>.json`` and ``OUT/summary.json``.

    Args:
        dataset: one of :data:`DATASETS`.
        root: the dataset's root in its official layout; image paths in the datalists are relative to it.
        out: output directory.
        seed: seed of every split and subset.
        fractions: label fractions of the training split (nested, stratified).
        on_error: ``"raise"`` stops at the first bad input with an error naming it; ``"skip"`` skips, counts and
            lists bad inputs in ``summary.json``.
        split_files: optional ``{"training"|"validation"|"test": list file}`` replacing the default splits.
        verify: decode every image (and mask) so that truncated or corrupt files are reported now, not when
            training reads them (slow on large datasets).
        options: dataset-specific keyword arguments of the ``prepare_<dataset>`` function.

    Returns:
        the summary.
    """
    errors = ErrorPolicy(on_error)
    preparers = {
        "mimic": prepare_mimic,
        "chexpert": prepare_chexpert,
        "nih": prepare_nih,
        "rsna": prepare_rsna,
        "siim": lambda root, errors, **kw: prepare_siim(root, out, errors, **kw),
        "mscxr": prepare_mscxr,
    }
    if dataset not in preparers:
        raise ValueError(f"unknown dataset {dataset!r}; choose from {DATASETS}")
    if dataset in ("chexpert", "nih", "rsna", "siim"):
        options["seed"] = seed
    result = preparers[dataset](Path(root), errors, **options)
    splits = apply_split_files(result["splits"], split_files) if split_files else result["splits"]
    if verify:
        splits = verify_images(Path(root), splits, errors)
    return write_datalists(
        out,
        splits,
        fractions,
        seed,
        errors,
        classes=result.get("classes"),
        stratum=result.get("stratum"),
        extra_summary={"dataset": dataset, **result.get("summary", {})},
    )
