"""Reading the datalists that the preparers and the demo write, with errors that name the file."""

from __future__ import annotations

import json
import os
import random
from collections.abc import Sequence

from monai.data import load_decathlon_datalist

__all__ = ["ALL_SPLITS", "datalist_classes", "load_split"]

ALL_SPLITS = "all"


def _require(datalist: str | os.PathLike | None, setting: str = "datalist") -> str | os.PathLike:
    if datalist is None:
        raise ValueError(
            f"no {setting} is set: pass --{setting} FILE, a datalist JSON that scripts/prepare_data.py writes for "
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


def load_split(
    datalist: str | os.PathLike | None,
    split: str | Sequence[str],
    base_dir: str | os.PathLike | None = None,
    setting: str = "datalist",
    sample: int | None = None,
    seed: int = 0,
) -> list[dict]:
    """Entries of a datalist with paths made absolute under ``base_dir`` (MONAI's ``load_decathlon_datalist``;
    ``None``: the datalist's own folder).

    Args:
        datalist: the datalist JSON.
        split: a split's name, several names, or ``"all"``: every split in the file, in file order (for
            evaluations that train nothing, such as zero-shot tasks).
        base_dir: the folder that entry paths are relative to.
        setting: the config key that holds ``datalist``, named when it is not set.
        sample: keep this many entries, drawn without replacement by ``seed`` (all of them when there are fewer).
        seed: the draw's seed.

    Raises:
        ValueError: when no datalist is set (the message names ``setting``), or naming the file,
            when a split is missing or empty (an empty validation split would leave no best checkpoint, and the
            run would fail only when it reaches the test).
    """
    with open(_require(datalist, setting)) as f:
        content = json.load(f)
    if split == ALL_SPLITS:
        names = [key for key, value in content.items() if isinstance(value, list) and value and isinstance(value[0], dict)]
    else:
        names = [split] if isinstance(split, str) else list(split)
    entries = []
    for name in names:
        if not content.get(name):
            raise ValueError(f"{datalist}: the '{name}' split is missing or empty.")
        entries += load_decathlon_datalist(datalist, data_list_key=name, base_dir=base_dir)
    if not entries:
        raise ValueError(f"{datalist}: no split of entries.")
    if sample is not None and sample < len(entries):
        chosen = sorted(random.Random(seed).sample(range(len(entries)), sample))
        entries = [entries[i] for i in chosen]
    return entries
