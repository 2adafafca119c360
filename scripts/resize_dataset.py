"""Write a pre-resized copy of a prepared dataset for fast loading at MIMIC-CXR scale.

Usage:
    python scripts/resize_dataset.py --dataset-dir ROOT --out OUT [--size 256] [--workers 8] DATALIST [DATALIST ...]

Reads each DATALIST (written by prepare_data.py, paths relative to ROOT), writes 8-bit PNGs of its images (and
masks) with longest side SIZE under OUT, and the datalists under OUT with the same names, pointing to them (boxes
scaled). Train with ``--dataset_dir OUT --datalist OUT/<name>``. Re-running resumes.
"""

from __future__ import annotations

import argparse
import logging
import sys

from msfm.data import write_resized_dataset


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("datalists", nargs="+", help="prepared datalists of one dataset")
    parser.add_argument("--dataset-dir", required=True, help="the root their paths are relative to")
    parser.add_argument("--out", required=True, help="where the copy and its datalists go")
    parser.add_argument("--size", type=int, default=256, help="longest side in pixels (>= the bundles' image_size)")
    parser.add_argument("--workers", type=int, default=1, help="processes")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        counts = write_resized_dataset(args.datalists, args.dataset_dir, args.out, args.size, args.workers)
    except (ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"{counts['images']} entries resized to longest side {args.size}, {counts['datalists']} datalists in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
