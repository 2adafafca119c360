"""Reading the datalists that the preparers and the demo write, with errors that name the file."""

from __future__ import annotations

import json
import os

from monai.data import load_decathlon_datalist

__all__ = ["datalist_classes", "load_split"]


def _require(datalist: str | os.PathLike | None) -> str | os.PathLike:
    if datalist is None:
        raise ValueError(
            "no datalist is set: pass --datalist FILE, a datalist JSON that scripts/prepare_data.py writes for "
            "your data, or add the bundle's configs/demo.json to use the demo data."
        )
    return datalist


def datalist_classes(datalist: str | os.PathLike | None) -> list[str]:
    """The ``classes`` that a preparer (or the demo) stores at the top of a classification datalist.

    Raises:
        ValueError: when no datalist is set, or naming the file, when it has no ``classes`` list.
    """
    with open(_require(datalist)) as f:
        classes = json.load(f).get("classes")
    if not classes:
        raise ValueError(f"{datalist}: no 'classes' list; prepare it with scripts/prepare_data.py or add one.")
    return list(classes)


def load_split(datalist: str | os.PathLike | None, split: str, base_dir: str | os.PathLike | None = None) -> list[dict]:
    """One split of a datalist with paths made absolute under ``base_dir`` (MONAI's ``load_decathlon_datalist``;
    ``None``: the datalist's own folder).

    Raises:
        ValueError: when no datalist is set (the message names the ``datalist`` setting), or naming the file,
            when the split is missing or empty (an empty validation split would leave no best checkpoint, and the
            run would fail only when it reaches the test).
    """
    with open(_require(datalist)) as f:
        entries = json.load(f).get(split)
    if not entries:
        raise ValueError(f"{datalist}: the '{split}' split is missing or empty.")
    return load_decathlon_datalist(datalist, data_list_key=split, base_dir=base_dir)
