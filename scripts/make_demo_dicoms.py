"""Write demo test radiographs as JPEG-Baseline DICOM files (no patient data), for trying infer_dicom.py and the
MONAI Label app's DICOM input.

Usage:
    python scripts/make_demo_dicoms.py --out data/msfm_demo_dicom [--n 8] [--dataset-dir data/msfm_demo_tasks]

Takes the first N test cases of the demo segmentation set, pneumothorax cases first; writes OUT/demo_<i>.dcm and
OUT/truth.json (file → the case's ground-truth mask PNG).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from msfm.data import load_split, make_dicom, read_radiograph
from msfm.demo import ensure_demo_task


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--dataset-dir", default="data/msfm_demo_tasks")
    args = parser.parse_args()

    cases = load_split(ensure_demo_task(args.dataset_dir, "segmentation"), "test", args.dataset_dir)
    cases.sort(key=lambda case: not read_radiograph(case["label"]).any())
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    truth = {}
    for index, case in enumerate(cases[: args.n]):
        pixels = (read_radiograph(case["image"]) * 255).round().astype(np.uint8)
        name = f"demo_{index:03d}.dcm"
        make_dicom(pixels, jpeg=True).save_as(out / name, enforce_file_format=True)
        truth[name] = str(case["label"])
    (out / "truth.json").write_text(json.dumps(truth, indent=2) + "\n")
    print(f"wrote {len(truth)} DICOM files and truth.json to {out}")


if __name__ == "__main__":
    main()
