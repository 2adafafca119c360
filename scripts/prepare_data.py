"""Turn a public chest X-ray dataset in its official layout into MONAI datalists for the msfm bundles.

Usage:
    python scripts/prepare_data.py DATASET --root ROOT --out OUT [--seed S] [--fractions 0.01,0.1,1.0]
        [--on-error raise|skip] [--split-files training=a.txt,validation=b.txt,test=c.txt] [dataset options]

DATASET is one of mimic, chexpert, nih, rsna, siim, mscxr. Writes OUT/datalist.json (training, validation,
test), OUT/datalist_<pct>.json per label fraction and OUT/summary.json (counts, prevalence, skipped files).
Image paths are relative to ROOT: use it as the bundles' dataset_dir.
"""

from __future__ import annotations

import argparse
import sys

from msfm.data.datasets import DATASETS, PreparationError, dataset_options, prepare_dataset


def parse_mapping(text: str) -> dict[str, str]:
    pairs = [item.split("=", 1) for item in text.split(",") if item]
    if any(len(p) != 2 for p in pairs):
        raise argparse.ArgumentTypeError(f"expected name=path[,name=path...], got {text!r}")
    return dict(pairs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", choices=DATASETS)
    parser.add_argument("--root", required=True, help="dataset root in its official layout")
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fractions", default="0.01,0.1,1.0", help="label fractions of the training split")
    parser.add_argument("--on-error", choices=("raise", "skip"), default="raise")
    parser.add_argument("--verify-images", action="store_true", help="decode every image now (slow on large sets)")
    parser.add_argument("--split-files", type=parse_mapping, default=None, help="training=...,validation=...,test=...")
    group = parser.add_argument_group("dataset options")
    group.add_argument("--reports-root", help="mimic: root of the report .txt files (default: --root)")
    group.add_argument("--all-views", action="store_true", help="mimic, chexpert: keep lateral views too")
    group.add_argument("--label-set", choices=("5", "14"), help="chexpert: 5 tasks (default) or 14 classes")
    group.add_argument(
        "--uncertain-ones", help="chexpert: classes whose -1 labels become 1 (default Atelectasis,Edema)"
    )
    group.add_argument("--validation-size", type=int, help="chexpert, nih, rsna, siim: validation images")
    group.add_argument("--test-size", type=int, help="rsna, siim: test images")
    group.add_argument("--annotations", help="mscxr: the MS-CXR CSV (default: found in --root)")
    args = parser.parse_args(argv)

    settings = ("reports_root", "all_views", "label_set", "uncertain_ones", "validation_size", "test_size", "annotations")
    try:
        options = dataset_options(args.dataset, **{name: getattr(args, name) for name in settings})
    except ValueError as error:
        parser.error(str(error))
    fractions = [float(f) for f in args.fractions.split(",") if f]
    try:
        prepare_dataset(
            args.dataset,
            args.root,
            args.out,
            args.seed,
            fractions,
            args.on_error,
            args.split_files,
            verify=args.verify_images,
            **options,
        )
    except PreparationError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
