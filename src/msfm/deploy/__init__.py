"""Clinical integration: one-image inference from a bundle or its TorchScript alone, and DICOM SEG / SR output."""

from __future__ import annotations

from msfm.deploy.dicom import (
    FINDING_CODES,
    finding_concept,
    output_stem,
    read_source,
    repair_invalid_values,
    write_findings_report,
    write_segmentation,
)
from msfm.deploy.predictor import BundlePredictor

__all__ = [
    "FINDING_CODES",
    "BundlePredictor",
    "finding_concept",
    "output_stem",
    "read_source",
    "repair_invalid_values",
    "write_findings_report",
    "write_segmentation",
]
