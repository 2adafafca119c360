"""Write the synthetic demo corpus (PNG radiographs + datalist.json with reports).

Usage:
    python scripts/make_demo_data.py --out data/msfm_demo --n 2000 --seed 0
"""

from __future__ import annotations

import argparse

from msfm.demo import make_demo_dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--n", type=int, default=2000, help="number of cases")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--validation-fraction", type=float, default=0.1)
    args = parser.parse_args()
    path = make_demo_dataset(args.out, args.n, args.seed, args.image_size, args.validation_fraction)
    print(f"wrote {args.n} cases and {path}")


if __name__ == "__main__":
    main()
