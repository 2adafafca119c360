"""A JPEG-Baseline computed-radiography chest DICOM with planted identifiers, and tiny exported bundle models."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pydicom
import torch
from monai.bundle import ConfigParser, ckpt_export
from pydicom.uid import generate_uid

from msfm.data import make_dicom
from msfm.demo import synthesize_case
from tests.conftest import REPO_ROOT

# Values of the Patient and Study modules, which the standard makes SEG and SR copy from the source.
MODULE_PHI = {
    "PatientName": "PLANTED^PATIENT",
    "PatientID": "PLANTED-PID-4242",
    "PatientBirthDate": "19010101",
    "AccessionNumber": "PLANTEDACC77",
    "ReferringPhysicianName": "PLANTED^REFERRER",
    "StudyID": "PLANTSTUDY9",
}
# Identifying values outside those modules: they must appear nowhere.
OTHER_PHI = {
    "InstitutionName": "PLANTED GENERAL HOSPITAL",
    "InstitutionAddress": "PLANTED STREET 1",
    "OperatorsName": "PLANTED^OPERATOR",
    "PerformingPhysicianName": "PLANTED^PERFORMER",
    "StationName": "PLANTEDSTATION",
    "ImageComments": "PLANTED COMMENT ABOUT THE PATIENT",
    "OtherPatientIDs": "PLANTED-OTHER-ID",
    "PatientAddress": "PLANTED ROAD 5",
}
PRIVATE_PHI = "PLANTED PRIVATE NOTE"

TINY = {
    "image_size": 32,
    "network_def#hidden_size": 32,
    "network_def#mlp_dim": 64,
    "network_def#num_layers": 4,
    "network_def#num_heads": 2,
}
CLASS_NAMES = ["opacity", "nodule", "effusion", "pneumothorax", "cardiomegaly"]


def write_chest_radiograph(path: Path, rows: int = 120, columns: int = 96) -> Path:
    """A synthetic chest radiograph stored as a CR image, JPEG Baseline compressed, with full Patient/Study
    modules and identifiers planted inside and outside them."""
    image = synthesize_case(np.random.default_rng(3), size=max(rows, columns))[0][:rows, :columns]
    ds = make_dicom((image * 255).astype(np.uint8), jpeg=True)
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = pydicom.uid.ComputedRadiographyImageStorage
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.StudyDate, ds.StudyTime, ds.PatientSex = "20240102", "101500", "F"
    ds.SeriesNumber, ds.InstanceNumber, ds.BodyPartExamined, ds.ViewPosition = 1, 1, "CHEST", "PA"
    for keyword, value in {**MODULE_PHI, **OTHER_PHI}.items():
        setattr(ds, keyword, value)
    block = ds.private_block(0x0011, "PLANTED CREATOR", create=True)
    block.add_new(0x01, "LO", PRIVATE_PHI)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def write_archive_radiograph(
    path: Path, pixel_spacing: bool = True, imager_spacing: bool = True, orientation: bool = True, dx: bool = False
) -> Path:
    """:func:`write_chest_radiograph` with the quirks of headers from real archives: PixelSpacing without
    SliceThickness (optionally ImagerPixelSpacing and PatientOrientation too), a single-component patient name,
    an age and a date that are invalid for their VR, and optionally the DX (for presentation) SOP class."""
    write_chest_radiograph(path)
    ds = pydicom.dcmread(path)
    if pixel_spacing:
        ds.PixelSpacing = [0.168, 0.168]
    if imager_spacing:
        ds.ImagerPixelSpacing = [0.139, 0.139]
    if orientation:
        ds.PatientOrientation = ["L", "F"]
    if dx:
        ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = pydicom.uid.DigitalXRayImageStorageForPresentation
        ds.Modality = "DX"
    ds.PatientName = "PLANTEDSINGLENAME"
    ds.PatientAge = "38"
    ds.StudyDate = "2024-01-02"
    ds.save_as(path)
    return path


def save_seeded_weights(configs: list[str], checkpoint: Path, seed: int = 0) -> Path:
    """Save the seeded random initial weights of ``network_def`` from ``configs`` (merged in order)."""
    parser = ConfigParser()
    parser.read_config(configs)
    torch.manual_seed(seed)
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    torch.save(parser.get_parsed_content("network_def").state_dict(), checkpoint)
    return checkpoint


def export_tiny_model(bundle: str, out: Path, **extra) -> dict[str, Path]:
    """A randomly initialised tiny network of ``bundle``'s ``inference.json``: its checkpoint, an override config
    with the tiny sizes, and the TorchScript export carrying the common ``workflow.json``, ``inference.json`` and
    that override."""
    out.mkdir(parents=True, exist_ok=True)
    overrides = out / "tiny.json"
    overrides.write_text(json.dumps({**TINY, **extra}, indent=4) + "\n")
    workflow = REPO_ROOT / "bundles" / "common" / "configs" / "workflow.json"
    configs = [str(workflow), str(REPO_ROOT / "bundles" / bundle / "configs" / "inference.json"), str(overrides)]
    checkpoint = save_seeded_weights(configs, out / "model.pt")
    ts = out / "model.ts"
    metadata = REPO_ROOT / "bundles" / bundle / "configs" / "metadata.json"
    ckpt_export(
        net_id="network_def", filepath=str(ts), ckpt_file=str(checkpoint), meta_file=str(metadata), config_file=configs
    )
    return {"configs": configs, "checkpoint": checkpoint, "ts": ts, "metadata": metadata}
