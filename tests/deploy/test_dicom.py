"""DICOM SEG and SR from a JPEG-Baseline chest radiograph: read back, referenced to the source, free of PHI beyond
the Patient and Study modules; and scripts/infer_dicom.py end to end."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import highdicom as hd
import numpy as np
import pydicom
import pytest

from msfm.deploy import (
    BundlePredictor,
    finding_concept,
    read_source,
    repair_invalid_values,
    write_findings_report,
    write_segmentation,
)
from tests.conftest import REPO_ROOT
from tests.deploy.fixtures import (
    CLASS_NAMES,
    MODULE_PHI,
    OTHER_PHI,
    PRIVATE_PHI,
    export_tiny_model,
    write_archive_radiograph,
    write_chest_radiograph,
)

# the configs ckpt_export puts inside the test models, merged in this order
IN_MODEL = ("workflow.json", "inference.json", "tiny.json")

PLANTED = [*MODULE_PHI.values(), *OTHER_PHI.values(), PRIVATE_PHI]


def string_elements(dataset):
    """(keyword, text) of every element, sequences included."""
    for element in dataset.iterall():
        if element.VR not in ("SQ", "OB", "OW", "UN") and element.value is not None:
            yield element.keyword, str(element.value)


def assert_no_phi_beyond_modules(path):
    """Planted identifiers appear only in their own Patient/Study module element, and nowhere else in the file."""
    dataset = pydicom.dcmread(path)
    for keyword, text in string_elements(dataset):
        for key, value in MODULE_PHI.items():
            if value in text:
                assert keyword == key, f"{path.name}: {value!r} found in {keyword}"
    raw = path.read_bytes()
    for value in [*OTHER_PHI.values(), PRIVATE_PHI]:
        assert value.encode() not in raw, f"{path.name}: {value!r} copied"
    assert not any(value in path.name for value in PLANTED)


def assert_references_source(dataset, source):
    """The output sits in the source's study and references the source instance."""
    if dataset.Modality == "SEG":
        series = dataset.ReferencedSeriesSequence[0]
        instance = series.ReferencedInstanceSequence[0]
    else:
        series = dataset.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[0]
        instance = series.ReferencedSOPSequence[0]
    assert (series.SeriesInstanceUID, instance.ReferencedSOPInstanceUID) == (
        source.SeriesInstanceUID,
        source.SOPInstanceUID,
    )
    assert dataset.StudyInstanceUID == source.StudyInstanceUID and dataset.PatientID == source.PatientID


@pytest.fixture
def source_path(tmp_path):
    return write_chest_radiograph(tmp_path / "in" / "cr.dcm")


def test_source_is_jpeg_baseline_cr(source_path):
    source = pydicom.dcmread(source_path)
    assert source.file_meta.TransferSyntaxUID == pydicom.uid.JPEGBaseline8Bit
    assert source.SOPClassUID == pydicom.uid.ComputedRadiographyImageStorage and source.pixel_array.shape == (120, 96)


def test_segmentation_round_trip(source_path, tmp_path):
    source = read_source(source_path)
    mask = np.zeros((120, 96), np.uint8)
    mask[10:40, 5:50] = 1
    write_segmentation(source, mask, tmp_path / "seg.dcm", "msfm_seg", "0.1.0")
    seg = hd.seg.segread(tmp_path / "seg.dcm")
    np.testing.assert_array_equal(pydicom.dcmread(tmp_path / "seg.dcm").pixel_array, mask)
    segment = seg.SegmentSequence[0]
    assert (
        segment.SegmentedPropertyTypeCodeSequence[0].CodeValue,
        segment.SegmentedPropertyTypeCodeSequence[0].CodingSchemeDesignator,
    ) == ("36118008", "SCT")
    assert segment.SegmentAlgorithmType == "AUTOMATIC"
    assert (segment.SegmentAlgorithmName, seg.SoftwareVersions) == ("msfm_seg", "0.1.0")
    assert seg.SourceImageSequence[0].ReferencedSOPInstanceUID == source.SOPInstanceUID
    assert_references_source(seg, source)
    assert_no_phi_beyond_modules(tmp_path / "seg.dcm")
    write_segmentation(source, np.zeros_like(mask), tmp_path / "empty.dcm", "msfm_seg", "0.1.0")
    assert not pydicom.dcmread(tmp_path / "empty.dcm").pixel_array.any()
    with pytest.raises(ValueError, match="differs"):
        write_segmentation(source, mask[:-1], tmp_path / "bad.dcm", "msfm_seg", "0.1.0")


def test_findings_report_round_trip(source_path, tmp_path):
    source = read_source(source_path)
    probabilities = {"pneumonia": 0.75, "effusion": 0.125, "custom finding": 0.5}
    write_findings_report(source, probabilities, tmp_path / "sr.dcm", "msfm_cls", "0.1.0")
    sr = hd.sr.srread(tmp_path / "sr.dcm")
    groups = sr.content.get_image_measurement_groups()
    read = {g.finding_type.meaning: g.get_measurements()[0].value for g in groups}
    assert read == {finding_concept(k).meaning: v for k, v in probabilities.items()}
    assert groups[0].finding_type.value == "233604007"
    assert all(g.source_images[0].referenced_sop_instance_uid == source.SOPInstanceUID for g in groups)
    assert_references_source(sr, source)
    assert_no_phi_beyond_modules(tmp_path / "sr.dcm")
    with pytest.raises(ValueError, match="outside"):
        write_findings_report(source, {"pneumonia": 1.5}, tmp_path / "bad.dcm", "msfm_cls", "0.1.0")


def validator_errors(path) -> set[str]:
    """The errors ``dciodvfy`` (dicom3tools, the reference validator) reports for a file."""
    result = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, check=False)
    return {line.strip() for line in (result.stdout + result.stderr).splitlines() if line.startswith("Error")}


ARCHIVE_HEADERS = {
    "cr-pixel-and-imager-spacing": {},
    "cr-pixel-spacing-only": {"imager_spacing": False},
    "cr-no-spacing-no-orientation": {"pixel_spacing": False, "imager_spacing": False, "orientation": False},
    "dx-no-orientation": {"orientation": False, "dx": True},
}


@pytest.mark.parametrize("header", ARCHIVE_HEADERS.values(), ids=ARCHIVE_HEADERS.keys())
def test_outputs_from_archive_headers_read_back_and_validate(header, tmp_path):
    """SEG and SR from sources with real-archive quirks read back with highdicom, carry the repaired values and no
    invalid one, and the reference validator finds no error in them that the source does not have."""
    source_path = write_archive_radiograph(tmp_path / "in" / "source.dcm", **header)
    source = read_source(source_path)
    mask = np.zeros((120, 96), np.uint8)
    mask[20:70, 10:40] = 1
    write_segmentation(source, mask, tmp_path / "seg.dcm", "msfm_seg", "0.1.0")
    write_findings_report(source, {"pneumothorax": 0.25}, tmp_path / "sr.dcm", "msfm_cls", "0.1.0")
    seg, sr = hd.seg.segread(tmp_path / "seg.dcm"), hd.sr.srread(tmp_path / "sr.dcm")
    np.testing.assert_array_equal(seg.pixel_array, mask)
    assert seg.PatientOrientation == source.get("PatientOrientation", "")
    for output in (seg, sr):
        assert (output.PatientAge, output.StudyDate) == ("038Y", "20240102")
        assert output.PatientName == "PLANTEDSINGLENAME"  # the Patient module stays as the standard requires
    if shutil.which("dciodvfy") is None:
        pytest.skip("dciodvfy not installed (apt-get install dicom3tools): validator comparison not run")
    source_errors = validator_errors(source_path)
    assert any("Patient's Age" in e for e in source_errors)  # the fixture does carry the quirk
    for name in ("seg.dcm", "sr.dcm"):
        added = validator_errors(tmp_path / name) - source_errors
        assert not added, f"{name}: {sorted(added)}"


def test_invalid_values_are_repaired_or_emptied_and_counted():
    dataset = pydicom.Dataset()
    dataset.PatientAge, dataset.StudyTime, dataset.PatientSex = "38", "10:15:00", "f"
    dataset.StudyDate, dataset.AccessionNumber = "early 2024", "A" * 20
    dataset.SeriesNumber, dataset.PatientName = 3, "ONLYONECOMPONENT"
    counts = repair_invalid_values(dataset)
    assert (dataset.PatientAge, dataset.StudyTime, dataset.PatientSex) == ("038Y", "101500", "F")
    assert (dataset.StudyDate, dataset.AccessionNumber) == ("", "")
    assert (dataset.SeriesNumber, dataset.PatientName) == (3, "ONLYONECOMPONENT")
    assert counts == {"repaired": 3, "emptied": 2}


def test_not_a_dicom_is_named(tmp_path):
    (tmp_path / "notes.dcm").write_text("not dicom")
    with pytest.raises(ValueError, match="notes.dcm"):
        read_source(tmp_path / "notes.dcm")


@pytest.mark.slow
def test_infer_dicom_writes_seg_and_sr_without_phi(source_path, tmp_path):
    seg = export_tiny_model("msfm_seg", tmp_path / "seg", **{"network_def#feature_size": 8, "threshold": 0.45})
    cls = export_tiny_model("msfm_cls", tmp_path / "cls", class_names=CLASS_NAMES)
    (source_path.parent / "broken.dcm").write_bytes(b"\0" * 128 + b"DICM" + b"garbage")
    out = tmp_path / "out"
    command = [
        sys.executable,
        str(REPO_ROOT / "scripts" / "infer_dicom.py"),
        str(source_path.parent),
        "--out",
        str(out),
        "--seg",
        str(seg["ts"]),
        "--cls",
        str(cls["ts"]),
        "--class-names",
        ",".join(CLASS_NAMES),
        "--configs-in-model",
        "workflow.json,inference.json,tiny.json",
    ]
    failed = subprocess.run(command, check=False, capture_output=True, text=True, cwd=REPO_ROOT)
    assert failed.returncode == 1 and "broken.dcm" in failed.stderr
    result = subprocess.run([*command, "--skip-invalid"], check=False, capture_output=True, text=True, cwd=REPO_ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    assert not any(value in result.stdout + result.stderr for value in PLANTED)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["skipped"] == 1 and len(manifest["written"]) == 1
    source = pydicom.dcmread(source_path)
    seg_path, sr_path = out / manifest["written"][0]["seg"], out / manifest["written"][0]["sr"]
    expected = BundlePredictor.from_torchscript(seg["ts"], IN_MODEL)(source_path)["pred"][0]
    np.testing.assert_array_equal(pydicom.dcmread(seg_path).pixel_array, np.asarray(expected).astype(np.uint8))
    scores = BundlePredictor.from_torchscript(cls["ts"], IN_MODEL)(source_path)["pred"]
    groups = hd.sr.srread(sr_path).content.get_image_measurement_groups()
    assert [g.get_measurements()[0].value for g in groups] == pytest.approx(np.asarray(scores).tolist(), abs=1e-6)
    for path in (seg_path, sr_path):
        assert_references_source(pydicom.dcmread(path), source)
        assert_no_phi_beyond_modules(path)


def test_library_messages_never_quote_the_header(source_path, tmp_path, caplog, capfd):
    """A real-world header: a single-component patient name (highdicom warns and quotes it) and an age invalid
    for its VR. Reading and writing SEG and SR print and log no header value: not the name, not a UID."""
    import logging
    import warnings

    dataset = pydicom.dcmread(source_path)
    dataset.PatientName = "PLANTEDSINGLENAME"
    dataset.PatientAge = "38"
    dataset.save_as(source_path)
    identifiers = ["PLANTEDSINGLENAME", dataset.StudyInstanceUID, dataset.SeriesInstanceUID, dataset.SOPInstanceUID]
    with caplog.at_level(logging.DEBUG), warnings.catch_warnings(record=True) as escaped:
        warnings.simplefilter("always")
        source = read_source(source_path)
        write_segmentation(source, np.ones((120, 96), np.uint8), tmp_path / "seg.dcm", "msfm_seg", "0")
        write_findings_report(source, {"pneumothorax": 0.5}, tmp_path / "sr.dcm", "msfm_cls", "0")
    printed = capfd.readouterr()
    emitted = caplog.text + printed.out + printed.err + " ".join(str(w.message) for w in escaped)
    assert not [value for value in identifiers if value in emitted]
    assert "withheld" in caplog.text  # the messages are counted, not lost silently
