"""Shared machinery of the dataset preparers: error policy, CSV reading, splits, label fractions, outputs."""

from __future__ import annotations

import csv
import gzip
import io
import json
import logging
import math
import os
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Sequence
from pathlib import Path

import numpy as np

__all__ = [
    "PreparationError",
    "ErrorPolicy",
    "read_csv",
    "find_file",
    "first_positive",
    "fit_box",
    "protocol_size",
    "split_off",
    "nested_fractions",
    "fraction_name",
    "write_datalists",
]

logger = logging.getLogger(__name__)


class PreparationError(ValueError):
    """A dataset file is missing, malformed or inconsistent; the message names the file and the problem."""


class ErrorPolicy:
    """What to do with a bad input: ``"raise"`` a :class:`PreparationError`, or ``"skip"`` it, counted and logged.

    Args:
        mode: ``"raise"`` or ``"skip"``.
    """

    def __init__(self, mode: str = "raise") -> None:
        if mode not in ("raise", "skip"):
            raise ValueError(f"on-error mode must be 'raise' or 'skip', got {mode!r}.")
        self.mode = mode
        self.skipped: list[dict[str, str]] = []

    def report(self, path: str | os.PathLike, problem: str) -> None:
        """Raise, or record the skip of, the bad input ``path``."""
        if self.mode == "raise":
            raise PreparationError(f"{path}: {problem}")
        logger.warning(f"skipping {path}: {problem}")
        self.skipped.append({"file": os.fspath(path), "problem": problem})


def _open_text(path: Path) -> io.TextIOBase:
    # utf-8-sig drops a byte-order mark when there is one
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path), encoding="utf-8-sig", newline="")
    return open(path, encoding="utf-8-sig", newline="")


def read_csv(path: str | os.PathLike, required: Sequence[str]) -> list[dict[str, str]]:
    """Read a CSV (``.csv`` or ``.csv.gz``, optional BOM) into dicts keyed by the stripped header names.

    Raises:
        PreparationError: naming the file, when it is missing or lacks a required column.
    """
    path = Path(path)
    if not path.exists():
        raise PreparationError(f"{path}: file not found")
    with _open_text(path) as f:
        reader = csv.reader(f)
        header = [name.strip() for name in next(reader, [])]
        missing = [name for name in required if name not in header]
        if missing:
            raise PreparationError(f"{path}: missing column(s) {missing}; found {header}")
        return [dict(zip(header, (v.strip() for v in row))) for row in reader if row]


def find_file(root: Path, *candidates: str) -> Path:
    """The first existing ``root/candidate``.

    Raises:
        PreparationError: when none exists.
    """
    for candidate in candidates:
        if (root / candidate).exists():
            return root / candidate
    raise PreparationError(f"{root}: none of {list(candidates)} found")


def fit_box(box: Sequence[float], width: float, height: float, tolerance: float = 1.0) -> list[float] | None:
    """``[x, y, w, h]`` clipped to the image when it overshoots by at most ``tolerance`` pixels (annotation
    rounding); None when it is empty or lies outside the image by more."""
    x, y, w, h = box
    if w <= 0 or h <= 0 or x < -tolerance or y < -tolerance or x + w > width + tolerance or y + h > height + tolerance:
        return None
    x0, y0 = max(x, 0.0), max(y, 0.0)
    return [x0, y0, min(x + w, width) - x0, min(y + h, height) - y0]


def first_positive(entry: dict) -> int:
    """Stratum of a multi-label entry: its first positive class, -1 when none."""
    return next((i for i, value in enumerate(entry["label"]) if value > 0), -1)


def _strata(entries: Sequence[dict], key: Callable[[dict], Hashable] | None) -> dict[Hashable, list[int]]:
    groups: dict[Hashable, list[int]] = defaultdict(list)
    for index, entry in enumerate(entries):
        groups[key(entry) if key else 0].append(index)
    return groups


def protocol_size(requested: int | None, official: int, official_total: int, available: int, split: str) -> int:
    """Images for a split: ``requested`` when given; otherwise the protocol's ``official`` count, or, for a dataset
    smaller than the protocol's ``official_total`` images (a pilot, a site's own subset), the same proportion of
    the ``available`` images (at least one), with a logged note.
    """
    if requested is not None:
        return requested
    if available >= official_total:
        return official
    size = max(1, round(official * available / official_total))
    logger.warning(
        f"{available} images, fewer than the protocol's {official_total}: {size} go to {split} (the protocol's "
        f"proportion; {official} in the full set). Set the size explicitly to change it."
    )
    return size


def split_off(
    entries: Sequence[dict], size: int, seed: int, stratum: Callable[[dict], Hashable] | None = None
) -> tuple[list[dict], list[dict]]:
    """Split ``size`` entries off (stratified by ``stratum``), deterministically by ``seed``.

    Not scikit-learn's ``train_test_split(stratify=...)``: it rejects any stratum with a single member, which
    small real subsets (a site's own images, a pilot) have for rare findings; here each stratum keeps its share,
    rounded so that exactly ``size`` entries are taken.

    Returns:
        ``(rest, taken)``.
    """
    if size <= 0:
        return list(entries), []
    if size >= len(entries):
        raise PreparationError(
            f"cannot split {size} entries off a set of {len(entries)}: give smaller --validation-size and "
            "--test-size (or leave them out: a dataset smaller than the protocol's gets its proportions)"
        )
    rng = np.random.default_rng(seed)
    strata = list(_strata(entries, stratum).values())
    # each stratum's share, rounded so that the shares add up to ``size`` (largest remainders first)
    exact = [size * len(indices) / len(entries) for indices in strata]
    shares = [math.floor(e) for e in exact]
    for i in sorted(range(len(strata)), key=lambda i: exact[i] - shares[i], reverse=True)[: size - sum(shares)]:
        shares[i] += 1
    taken: set[int] = set()
    for indices, share in zip(strata, shares):
        taken.update(rng.permutation(indices)[:share].tolist())
    return [e for i, e in enumerate(entries) if i not in taken], [e for i, e in enumerate(entries) if i in taken]


def nested_fractions(
    entries: Sequence[dict],
    fractions: Iterable[float],
    seed: int,
    stratum: Callable[[dict], Hashable] | None = None,
) -> dict[float, list[dict]]:
    """Nested, stratified label-fraction subsets: one seeded order per stratum, each fraction a prefix of it.

    So a smaller fraction is always contained in a larger one, and each stratum keeps its share (at least one
    entry per non-empty stratum). scikit-learn's splitters draw each subset independently, so they cannot give
    the nesting the label-fraction protocol needs.
    """
    rng = np.random.default_rng(seed)
    orders = [rng.permutation(indices).tolist() for _, indices in sorted(_strata(entries, stratum).items(), key=str)]
    subsets = {}
    for fraction in fractions:
        if not 0 < fraction <= 1:
            raise ValueError(f"fractions must be in (0, 1], got {fraction}")
        chosen = {i for order in orders for i in order[: max(1, math.ceil(fraction * len(order)))]}
        subsets[fraction] = [e for i, e in enumerate(entries) if i in chosen]
    return subsets


def fraction_name(fraction: float) -> str:
    """``0.01`` → ``"1"``, ``0.1`` → ``"10"``, ``1.0`` → ``"100"``."""
    return f"{fraction * 100:g}"


def _describe(entries: Sequence[dict], classes: Sequence[str] | None) -> dict:
    description: dict = {"count": len(entries)}
    if classes and entries and "label" in entries[0] and isinstance(entries[0]["label"], list):
        labels = np.asarray([e["label"] for e in entries], dtype=float)
        description["prevalence"] = {c: round(float(p), 4) for c, p in zip(classes, labels.mean(axis=0))}
    if entries and "positive" in entries[0]:
        description["prevalence"] = {"positive": round(float(np.mean([e["positive"] for e in entries])), 4)}
    return description


def write_datalists(
    out: str | os.PathLike,
    splits: dict[str, list[dict]],
    fractions: Sequence[float],
    seed: int,
    errors: ErrorPolicy,
    classes: Sequence[str] | None = None,
    stratum: Callable[[dict], Hashable] | None = None,
    extra_summary: dict | None = None,
) -> dict:
    """Write ``datalist.json``, ``datalist_<pct>.json`` per fraction and ``summary.json``; print the summary.

    Args:
        out: output directory.
        splits: ``training``, ``validation`` and ``test`` entry lists.
        fractions: label fractions of the training split.
        seed: seed of the fraction subsets.
        errors: the error policy, whose skipped files are listed in the summary.
        classes: class names of ``label`` vectors, stored at the top level of every datalist.
        stratum: key that the fraction subsets keep in proportion.
        extra_summary: more fields for ``summary.json`` (e.g. counts of filtered entries).

    Returns:
        the summary.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    header = {"classes": list(classes)} if classes else {}
    with open(out / "datalist.json", "w") as f:
        json.dump({**header, **splits}, f, indent=1)
    summary: dict = {"seed": seed, "splits": {name: _describe(e, classes) for name, e in splits.items()}}
    subsets = nested_fractions(splits["training"], fractions, seed, stratum)
    summary["fractions"] = {}
    for fraction, subset in subsets.items():
        name = fraction_name(fraction)
        with open(out / f"datalist_{name}.json", "w") as f:
            json.dump({**header, **splits, "training": subset}, f, indent=1)
        summary["fractions"][name] = _describe(subset, classes)
    summary["skipped"] = errors.skipped
    summary.update(extra_summary or {})
    with open(out / "summary.json", "w") as f:
        json.dump(summary, f, indent=1)
    for name, description in summary["splits"].items():
        print(f"{name:>10}: {description['count']:>7} {description.get('prevalence', '')}")
    for name, description in summary["fractions"].items():
        print(f"{name + ' %':>10}: {description['count']:>7} training entries")
    print(f"skipped: {len(errors.skipped)} (listed in {out / 'summary.json'})")
    return summary
