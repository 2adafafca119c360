"""Deterministic synthetic chest-radiograph corpus for demos and tests.

Each image is a frontal chest film: torso, two lung fields with vessel-like texture and ribs, a heart of varying
size, and noise. Findings are drawn at named places (side and zone) with clinical sizes and contrasts: a
subtle opacity, a nodule a few millimetres across, an effusion, a pneumothorax that removes lung markings behind
a faint pleural line, or a heart only moderately larger than the largest normal one. About a third of the cases
are normal, with near-identical reports, as in MIMIC-CXR.

Each report describes the findings, negates some absent ones and wraps them in MIMIC-like sections. Two disjoint
phrasing banks keep evaluation honest: the pretraining corpus's training split uses ``"pretraining"``, and its
validation split and every downstream demo set (:mod:`msfm.demo.tasks`) use ``"held_out"``, so no sentence that
validation or evaluation reads was ever seen in pretraining.

Radiological convention: the patient's right is on the image's left.
"""

from __future__ import annotations

import json
import logging
import os
import textwrap
from pathlib import Path

import numpy as np
from filelock import FileLock
from monai.utils import optional_import
from scipy.ndimage import gaussian_filter

Image, _ = optional_import("PIL.Image")

__all__ = [
    "FINDING_TYPES",
    "PHRASINGS",
    "SIDES",
    "ZONES",
    "demo_roots",
    "ensure_demo_datalist",
    "make_demo_dataset",
    "refuse_foreign_folder",
    "refuse_outside_project_data",
    "synthesize_case",
]

logger = logging.getLogger(__name__)

FINDING_TYPES = ("opacity", "nodule", "effusion", "pneumothorax", "cardiomegaly")
SIDES = ("right", "left")
ZONES = ("upper", "middle", "lower")
PHRASINGS = ("pretraining", "held_out")

# lung fields in normalised image coordinates (x0, x1, y0, y1); the patient's right lung is on the image left
_LUNGS = {"right": (0.12, 0.45, 0.14, 0.86), "left": (0.55, 0.88, 0.14, 0.86)}
_ZONE_WORDS = {"upper": ("upper", "upper"), "middle": ("mid", "middle"), "lower": ("lower", "basal")}
# Per bank: finding sentences, negations of absent findings, impressions, normal impressions and incidental
# statements. No sentence of one bank occurs in the other; the vocabulary overlaps, as two radiologists' do.
_BANKS = {
    "pretraining": {
        "sentences": {
            "opacity": (
                "There is an opacity in the {side} {zone} zone.",
                "Patchy consolidation is seen in the {side} {zone} zone.",
                "{Side} {zone} zone airspace opacity is noted.",
            ),
            "nodule": (
                "A small nodule is seen in the {side} {zone} zone.",
                "There is a {mm} mm nodule in the {side} {zone} zone.",
                "{Side} {zone} zone nodular density is present.",
            ),
            "effusion": (
                "There is a {side} pleural effusion.",
                "Small {side} pleural effusion with blunting of the costophrenic angle.",
                "{Side} pleural fluid is present.",
            ),
            "pneumothorax": (
                "There is a {side} apical pneumothorax.",
                "A {side} pneumothorax is present.",
                "{Side} sided pneumothorax is seen.",
            ),
            "cardiomegaly": (
                "The heart is enlarged.",
                "Cardiomegaly is present.",
                "The cardiac silhouette is enlarged.",
            ),
        },
        "negations": {
            "opacity": ("No focal consolidation.", "There is no focal airspace opacity.", "No pneumonia."),
            "nodule": ("No pulmonary nodules are seen.",),
            "effusion": ("No pleural effusion.", "There is no pleural effusion."),
            "pneumothorax": ("No pneumothorax.", "There is no pneumothorax."),
            "cardiomegaly": ("Heart size is normal.", "The cardiac silhouette is within normal limits."),
        },
        "impressions": {
            "opacity": "{Side} {zone} zone opacity, possibly pneumonia.",
            "nodule": "{Side} {zone} zone nodule.",
            "effusion": "{Side} pleural effusion.",
            "pneumothorax": "{Side} pneumothorax.",
            "cardiomegaly": "Cardiomegaly.",
        },
        "normal": ("No acute cardiopulmonary process.", "Normal chest radiograph."),
        "incidental": (
            "Pulmonary vascularity is normal.",
            "No acute osseous abnormality is visualized.",
            "Overlying EKG leads are projecting over the chest.",
            "The bronchovascular markings are normal.",
        ),
    },
    "held_out": {
        "sentences": {
            "opacity": (
                "Poorly defined airspace disease in the {side} {zone} lung.",
                "The {side} {zone} zone shows new consolidation.",
                "Hazy opacification projects over the {side} {zone} zone.",
            ),
            "nodule": (
                "A rounded {mm} mm density projects over the {side} {zone} zone.",
                "Solitary pulmonary nodule in the {side} {zone} zone.",
                "The {side} {zone} zone contains a small nodular opacity.",
            ),
            "effusion": (
                "Layering fluid at the {side} base.",
                "The {side} costophrenic angle is blunted by fluid.",
                "Moderate effusion on the {side}.",
            ),
            "pneumothorax": (
                "A pleural line at the {side} apex with no lung markings beyond it.",
                "Small {side} pneumothorax at the apex.",
                "Air in the {side} pleural space.",
            ),
            "cardiomegaly": (
                "Heart size is enlarged.",
                "Moderate enlargement of the cardiac silhouette.",
                "The heart is mildly enlarged.",
            ),
        },
        "negations": {
            "opacity": ("The lungs are clear.", "No evidence of pneumonia."),
            "nodule": ("No nodules or masses.",),
            "effusion": ("The costophrenic angles are sharp.", "No effusion is seen."),
            "pneumothorax": ("No evidence of pneumothorax.", "No pneumothorax is seen."),
            "cardiomegaly": ("Normal heart size.", "The cardiomediastinal silhouette is unremarkable."),
        },
        "impressions": {
            "opacity": "{Side} {zone} zone consolidation, consistent with pneumonia.",
            "nodule": "Nodule in the {side} {zone} zone.",
            "effusion": "Effusion on the {side}.",
            "pneumothorax": "Pneumothorax on the {side}.",
            "cardiomegaly": "Enlarged heart.",
        },
        "normal": ("No acute intrathoracic abnormality.", "No acute findings."),
        "incidental": (
            "Osseous structures are intact.",
            "Monitoring leads overlie the chest.",
            "Vascular markings are within normal limits.",
            "Mild degenerative changes of the thoracic spine.",
        ),
    },
}


def _sample_findings(rng: np.random.Generator) -> list[dict]:
    count = rng.choice(4, p=(0.35, 0.35, 0.2, 0.1))
    findings: list[dict] = []
    places: set[tuple[str, str]] = set()  # one finding per (side, zone), so none hides another
    while len(findings) < count:
        kind = FINDING_TYPES[rng.integers(len(FINDING_TYPES))]
        side = SIDES[rng.integers(2)]
        zone = {"effusion": "lower", "pneumothorax": "upper"}.get(kind, ZONES[rng.integers(3)])
        if kind == "cardiomegaly":
            side, zone = "", ""
        if (side, zone) in places:
            continue
        places.add((side, zone))
        findings.append({"type": kind, "side": side, "zone": zone})
    return findings


def _draw(findings: list[dict], size: int, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Render a ``[size, size]`` film in ``[0, 1]`` and add each finding's ``box`` ``[x, y, w, h]`` in pixels.

    Contrasts are a fraction of the lung-to-soft-tissue difference (0.33) and vary from case to case, so some
    findings are faint; the lung texture and the film's contrast and brightness vary as much as a finding does.

    Returns:
        the film and, per finding type present, the union of its regions as a bool mask.
    """
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    shift_x, shift_y = rng.uniform(-0.03, 0.03, 2)
    xx, yy = xx - shift_x, yy - shift_y
    image = np.full((size, size), 0.05, np.float32)
    image[((xx - 0.5) / 0.47) ** 2 + ((yy - 0.55) / 0.55) ** 2 < 1] = 0.55
    ribs = 0.05 * (np.sin(yy * 2 * np.pi * rng.uniform(8, 10) + rng.uniform(0, 2 * np.pi)) > 0.6)
    # vessel-like markings: smoothed noise, fading towards the periphery like real lung markings
    markings = gaussian_filter(rng.normal(0, 1, (size, size)), size / 60).astype(np.float32)
    markings *= 0.04 / (markings.std() + 1e-6)
    lung_masks = {}
    for side, (x0, x1, y0, y1) in _LUNGS.items():
        cx, cy, rx, ry = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2, (y1 - y0) / 2
        lung = ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 < 1
        lung_masks[side] = lung
        image[lung] = 0.22 + ribs[lung] + markings[lung]
    regions: dict[str, np.ndarray] = {}
    enlarged = any(f["type"] == "cardiomegaly" for f in findings)
    heart_scale = rng.uniform(1.22, 1.38) if enlarged else rng.uniform(0.88, 1.12)
    heart = ((xx - 0.54) / (0.13 * heart_scale)) ** 2 + ((yy - 0.68) / (0.11 * heart_scale)) ** 2 < 1
    image[heart] = 0.62
    for finding in findings:
        kind, side, zone = finding["type"], finding["side"], finding["zone"]
        if kind == "cardiomegaly":
            region = heart
        else:
            x0, x1, y0, y1 = _LUNGS[side]
            lung = lung_masks[side]
            zone_top = y0 + ZONES.index(zone) * (y1 - y0) / 3
            cx = (x0 + x1) / 2 + rng.uniform(-0.06, 0.06)
            cy = zone_top + (y1 - y0) / 6 + rng.uniform(-0.04, 0.04)
            if kind == "opacity":
                sigma = rng.uniform(0.035, 0.06)
                blob = np.exp(-(((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * sigma**2)))
                image += rng.uniform(0.06, 0.16) * blob * lung
                region = (blob > 0.3) & lung
            elif kind == "nodule":  # 8-25 mm on a 35 cm film
                radius = rng.uniform(0.012, 0.035)
                distance = np.sqrt((xx - cx) ** 2 + (yy - cy) ** 2)
                image += rng.uniform(0.08, 0.2) * np.clip(1.5 - distance / radius, 0, 1) * lung
                region = (distance < radius) & lung
            elif kind == "effusion":
                height = rng.uniform(0.1, 0.22)
                meniscus = y1 - height + 0.08 * ((xx - (x0 + x1) / 2) / ((x1 - x0) / 2)) ** 2
                region = lung & (yy > meniscus)
                depth = np.clip((yy - meniscus) / 0.04, 0, 1)  # fluid thickens downwards from the meniscus
                image = np.where(region, image + rng.uniform(0.15, 0.3) * depth, image)
            else:  # pneumothorax: air without lung markings at the apex, edged by a faint pleural line
                lateral = x0 if side == "right" else x1
                extent = rng.uniform(0.7, 1.2)
                shape = (xx - lateral) ** 2 / (0.2 * extent) ** 2 + (yy - y0) ** 2 / (0.4 * extent) ** 2
                region = lung & (shape < 1)
                image[region] = 0.22 + ribs[region] - rng.uniform(0.03, 0.07)
                image[lung & (np.abs(shape - 1) < 0.06)] += rng.uniform(0.06, 0.12)
        regions[kind] = regions.get(kind, np.zeros_like(region)) | region
        rows, cols = np.nonzero(region)
        finding["box"] = (
            [int(cols.min()), int(rows.min()), int(cols.max() - cols.min() + 1), int(rows.max() - rows.min() + 1)]
            if rows.size
            else [0, 0, 0, 0]
        )
    contrast, brightness = rng.uniform(0.8, 1.2), rng.uniform(-0.08, 0.08)
    image = (image - 0.4) * contrast + 0.4 + brightness + rng.normal(0, 0.03, image.shape).astype(np.float32)
    return np.clip(image, 0.0, 1.0), regions


def _write_report(findings: list[dict], rng: np.random.Generator, phrasing: str) -> str:
    bank = _BANKS[phrasing]
    present = {f["type"] for f in findings}
    sentences = []
    for finding in findings:
        zone_word = _ZONE_WORDS[finding["zone"]][rng.integers(2)] if finding["zone"] else ""
        templates = bank["sentences"][finding["type"]]
        finding["sentence"] = templates[rng.integers(len(templates))].format(
            side=finding["side"], Side=finding["side"].capitalize(), zone=zone_word, mm=int(rng.integers(8, 25))
        )
        sentences.append(finding["sentence"])
    absent = [kind for kind in FINDING_TYPES if kind not in present]
    for kind in rng.permutation(absent)[: rng.integers(1, len(absent) + 1)]:
        options = bank["negations"][kind]
        sentences.append(options[rng.integers(len(options))])
    sentences += list(rng.choice(bank["incidental"], rng.integers(0, 3), replace=False))
    order = rng.permutation(len(sentences))
    findings_text = " ".join(sentences[i] for i in order)
    if findings:
        impression = " ".join(
            bank["impressions"][f["type"]].format(
                side=f["side"], Side=f["side"].capitalize(), zone=_ZONE_WORDS[f["zone"]][1] if f["zone"] else ""
            )
            for f in findings
        )
    else:
        impression = bank["normal"][rng.integers(len(bank["normal"]))]
    # hard-wrapped between words at 70 columns, as MIMIC-CXR's reports are, with a de-identified indication
    wrapped, impression = ("\n ".join(textwrap.wrap(text, 70)) for text in (findings_text, impression))
    return (
        "                                 FINAL REPORT\n EXAMINATION:  CHEST (PA AND LAT)\n\n"
        f" INDICATION:  ___ with cough.\n\n FINDINGS:\n \n {wrapped}\n \n IMPRESSION:\n \n {impression}\n"
    )


def synthesize_case(
    rng: np.random.Generator, size: int = 128, phrasing: str = "pretraining"
) -> tuple[np.ndarray, str, list[dict], dict[str, np.ndarray]]:
    """One synthetic case.

    Args:
        rng: random generator.
        size: side of the square image.
        phrasing: the report's phrasing bank, one of :data:`PHRASINGS`.

    Returns:
        ``(image [size, size] in [0, 1], report text, findings with boxes and sentences, region mask per finding
        type present)``.
    """
    if phrasing not in _BANKS:
        raise ValueError(f"unknown phrasing {phrasing!r}; choose from {PHRASINGS}")
    findings = _sample_findings(rng)
    image, regions = _draw(findings, size, rng)
    return image, _write_report(findings, rng, phrasing), findings, regions


def make_demo_dataset(
    out_dir: str | os.PathLike, n: int = 2000, seed: int = 0, image_size: int = 128, validation_fraction: float = 0.1
) -> Path:
    """Write ``n`` synthetic cases as PNGs plus ``datalist.json`` (``training`` and ``validation`` lists).

    Entries hold ``image`` (path relative to ``out_dir``), ``report`` (the text) and ``findings``. Training
    reports use the ``"pretraining"`` phrasing bank and validation reports the ``"held_out"`` one.

    Args:
        out_dir: output directory.
        n: number of cases.
        seed: seed; the same arguments always give the same files.
        image_size: side of the square images.
        validation_fraction: share of cases in the validation list.

    Returns:
        the path of ``datalist.json``.
    """
    out_dir = Path(out_dir)
    (out_dir / "images").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    n_val = max(1, int(round(n * validation_fraction)))
    entries = []
    for index in range(n):
        phrasing = "held_out" if index < n_val else "pretraining"
        image, report, findings, _ = synthesize_case(rng, image_size, phrasing)
        name = f"images/demo_{index:05d}.png"
        Image.fromarray((image * 255).round().astype(np.uint8)).save(out_dir / name)
        entries.append({"image": name, "report": report, "findings": findings})
    datalist = {"training": entries[n_val:], "validation": entries[:n_val]}
    path = out_dir / "datalist.json"
    staged = out_dir / "datalist.json.partial"
    with open(staged, "w") as f:
        json.dump(datalist, f, indent=1)
    staged.replace(path)  # the datalist appears only once every image is written
    return path


def demo_roots() -> list[Path]:
    """Where demo data may be generated: ``data/`` of the working directory (the project root, where the
    README's commands run) and of the source checkout msfm runs from, and the folder that the environment
    variable ``MSFM_DEMO_DATA_ROOT`` names (the test suite's temporary folder)."""
    checkout = Path(__file__).resolve().parents[3]
    roots = [Path.cwd() / "data"] + ([checkout / "data"] if (checkout / "pyproject.toml").is_file() else [])
    roots += [Path(os.environ["MSFM_DEMO_DATA_ROOT"])] if os.environ.get("MSFM_DEMO_DATA_ROOT") else []
    return [root.resolve() for root in roots]


def refuse_outside_project_data(folder: str | os.PathLike) -> None:
    """Stop before demo data is generated anywhere but under the project's ``data/`` folder (:func:`demo_roots`).

    Raises:
        ValueError: naming the folder and the allowed place.
    """
    target = Path(folder).resolve()
    if not any(target.is_relative_to(root) for root in demo_roots()):
        raise ValueError(
            f"{folder}: demo data is generated only under the project's data/ folder ({demo_roots()[0]}). Pass the "
            "datalist of your own data (--datalist) and leave out the demo configs, or choose a dataset_dir in data/."
        )


def refuse_foreign_folder(folder: str | os.PathLike, own: tuple[str, ...] = ()) -> None:
    """Stop before demo data is written into a folder that already holds anything but ``own`` entries.

    Raises:
        ValueError: naming the folder.
    """
    folder = Path(folder)
    foreign = sorted(p.name for p in folder.iterdir() if p.name not in own) if folder.is_dir() else []
    if foreign:
        raise ValueError(
            f"{folder} is not empty ({len(foreign)} entries, e.g. {foreign[0]!r}) and holds no demo data: synthetic "
            "data is only generated into an empty or new folder. Pass the datalist of your own data (--datalist), "
            "or choose another folder for the demo (an interrupted generation leaves such a folder: delete it)."
        )


def ensure_demo_datalist(dataset_dir: str | os.PathLike, n: int = 2000, seed: int = 0, image_size: int = 128) -> str:
    """Return ``dataset_dir/datalist.json``, generating the demo corpus first when it is missing.

    Raises:
        ValueError: when ``dataset_dir`` holds files but no demo corpus, or lies outside the project's ``data/``
            folder (generation never writes where a user's data may be).
    """
    path = Path(dataset_dir) / "datalist.json"
    if not path.exists():
        refuse_outside_project_data(dataset_dir)  # before any folder or lock file is made
        path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(f"{path}.lock"):  # ranks of one torchrun start together: one writes, the others wait
            if not path.exists():
                refuse_outside_project_data(dataset_dir)
                refuse_foreign_folder(dataset_dir, own=(f"{path.name}.lock",))
                logger.info(f"generating the demo corpus ({n} cases) in {dataset_dir}")
                make_demo_dataset(dataset_dir, n=n, seed=seed, image_size=image_size)
    return os.fspath(path)
