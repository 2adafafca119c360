"""Run the msfm downstream models on chest radiograph DICOMs and write DICOM SEG and SR.

Usage:
    python scripts/infer_dicom.py INPUT --out DIR [--seg MODEL] [--cls MODEL --class-names a,b,...]
        [--zeroshot] [--configs-in-model workflow.json,inference.json,demo.json] [--skip-invalid] [--device cpu]

INPUT is a DICOM file or a folder (searched recursively, files detected by content). MODEL is either a TorchScript
file from `python -m monai.bundle ckpt_export` (the configs named by --configs-in-model are read from inside it) or a
checkpoint `.pt`, used with the bundle's own configs (--seg-configs / --cls-configs). For each source image:
`<hash>_seg.dcm` (DICOM SEG, SNOMED CT pneumothorax) and `<hash>_sr.dcm` (Comprehensive SR with one probability per
finding), plus DIR/manifest.json. File names and logs carry no header value.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from msfm.deploy import BundlePredictor
from msfm.deploy.pipeline import DicomInference, ZeroShotScorer

BUNDLES = Path(__file__).resolve().parents[1] / "bundles"
WORKFLOW = BUNDLES / "common" / "configs" / "workflow.json"


def predictor(model: str, configs_in_model: list[str], config_files: list[str], device: str) -> BundlePredictor:
    if model.endswith(".ts"):
        return BundlePredictor.from_torchscript(model, configs_in_model, device=device)
    bundle_dir = Path(config_files[-1]).parents[1]
    return BundlePredictor.from_checkpoint(config_files, model, bundle_dir / "configs" / "metadata.json", device=device)


def split(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("input", help="a DICOM file or a folder of them")
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--seg", help="msfm_seg model: model.ts, or model.pt with --seg-configs")
    parser.add_argument("--cls", help="msfm_cls model: model.ts, or model.pt with --cls-configs")
    parser.add_argument("--class-names", type=split, default=[], help="msfm_cls output names, in order")
    parser.add_argument("--zeroshot", action="store_true", help="add the msfm_zeroshot score (--zeroshot-configs)")
    parser.add_argument(
        "--configs-in-model",
        type=split,
        default=["workflow.json", "inference.json"],
        help="configs read from inside a .ts model, merged in order",
    )
    parser.add_argument("--seg-configs", type=split, default=[str(WORKFLOW), str(BUNDLES / "msfm_seg/configs/inference.json")])
    parser.add_argument("--cls-configs", type=split, default=[str(WORKFLOW), str(BUNDLES / "msfm_cls/configs/inference.json")])
    parser.add_argument(
        "--zeroshot-configs",
        type=split,
        default=[str(p) for p in (WORKFLOW, BUNDLES / "msfm/configs/train.json", BUNDLES / "msfm_zeroshot/configs/evaluate.json")],
    )
    parser.add_argument("--zeroshot-finding", default="pneumonia", help="the name the zero-shot score is reported as")
    parser.add_argument("--skip-invalid", action="store_true", help="count and log unreadable inputs, do not stop")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    if args.cls and not args.class_names:
        parser.error("--cls needs --class-names (the classification outputs, in order)")
    try:
        inference = DicomInference(
            segmentation=predictor(args.seg, args.configs_in_model, args.seg_configs, args.device)
            if args.seg
            else None,
            classification=predictor(args.cls, args.configs_in_model, args.cls_configs, args.device)
            if args.cls
            else None,
            class_names=args.class_names,
            zero_shot=ZeroShotScorer(args.zeroshot_configs, finding=args.zeroshot_finding, device=args.device)
            if args.zeroshot
            else None,
        )
        manifest = inference(args.input, args.out, skip_invalid=args.skip_invalid)
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"{len(manifest['written'])} images written to {args.out}, {manifest['skipped']} skipped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
