"""DICOM out: a Segmentation (SEG) for predicted masks and a Comprehensive SR for finding probabilities.

Both are built with highdicom, which copies only the Patient, Study and general-equipment references that the
standard requires from the source image; nothing else of the source header (institution, operators, device,
comments, private tags) is carried over, and output file names come from a hash, never from the header.

Real headers hold values that are invalid for their VR (a Patient's Age of ``38`` where AS needs ``038Y``, dates with
dashes). What the outputs copy is repaired where the meaning is unambiguous, else emptied, and counted
(:func:`repair_invalid_values`), so that validators report no error the source does not already have.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import os
import re
from collections import Counter
from collections.abc import Mapping

import numpy as np
from monai.utils import optional_import

from msfm.data.privacy import withheld_library_messages

hd, _ = optional_import("highdicom")
pydicom, _ = optional_import("pydicom")
codes, _ = optional_import("pydicom.sr.codedict", name="codes")
valuerep, _ = optional_import("pydicom.valuerep")

__all__ = [
    "FINDING_CODES",
    "PLAIN_CHEST_XRAY",
    "finding_concept",
    "output_stem",
    "read_source",
    "repair_invalid_values",
    "write_findings_report",
    "write_segmentation",
]

# SNOMED CT concepts for the findings msfm predicts; other names get a local code (scheme "99MSFM").
FINDING_CODES: dict[str, tuple[str, str, str]] = {
    "pneumothorax": ("36118008", "SCT", "Pneumothorax"),
    "pneumonia": ("233604007", "SCT", "Pneumonia"),
    "effusion": ("60046008", "SCT", "Pleural effusion"),
    "pleural effusion": ("60046008", "SCT", "Pleural effusion"),
    "cardiomegaly": ("8186001", "SCT", "Cardiomegaly"),
    "atelectasis": ("46621007", "SCT", "Atelectasis"),
    "consolidation": ("95436008", "SCT", "Lung consolidation"),
    "edema": ("19242006", "SCT", "Pulmonary edema"),
    "nodule": ("27925004", "SCT", "Nodule"),
    "opacity": ("263716002", "SCT", "Opacity"),
    "lung opacity": ("263716002", "SCT", "Opacity"),
}
PLAIN_CHEST_XRAY = ("399208008", "SCT", "Plain chest X-ray")

logger = logging.getLogger(__name__)

# Type 2 Patient/Study attributes highdicom copies; a source without them gets them empty (in a copy).
_TYPE2_REFERENCES = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "StudyDate",
    "StudyTime",
    "ReferringPhysicianName",
    "StudyID",
    "AccessionNumber",
)


def finding_concept(name: str):
    """The coded concept of a finding name (SNOMED CT where known, else a local ``99MSFM`` code)."""
    value, scheme, meaning = FINDING_CODES.get(name.lower(), (name.upper().replace(" ", "_")[:16], "99MSFM", name))
    return hd.sr.CodedConcept(value=value, scheme_designator=scheme, meaning=meaning)


def output_stem(source) -> str:
    """A file-name stem for outputs derived from a source instance: a hash of its SOP Instance UID, so that no
    header value appears in a file name."""
    return hashlib.sha256(str(source.SOPInstanceUID).encode()).hexdigest()[:16]


def read_source(path: str | os.PathLike):
    """Read a single-frame source radiograph for referencing.

    Raises:
        ValueError: naming the file when it is not DICOM, lacks study/series/instance UIDs, or is multi-frame.
    """
    try:
        with withheld_library_messages():
            source = pydicom.dcmread(path)
    except Exception as error:
        raise ValueError(f"{path}: not a readable DICOM file ({type(error).__name__}: {error})") from error
    missing = [k for k in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "SOPClassUID") if k not in source]
    if missing:
        raise ValueError(f"{path}: cannot be referenced, {missing} missing")
    if int(source.get("NumberOfFrames", 1)) != 1:
        raise ValueError(f"{path}: expected a single-frame radiograph, got {source.NumberOfFrames} frames")
    return source


def _repaired(vr: str, value: str) -> str | None:
    """The valid spelling of a value invalid for its VR when its meaning is unambiguous, else None."""
    text = str(value).strip()
    if vr == "AS" and text.isdigit() and int(text) < 1000:
        return f"{int(text):03d}Y"  # a bare number is an age in years
    if vr == "DA" and re.fullmatch(r"\d{4}[-./]\d{2}[-./]\d{2}", text):
        return re.sub(r"\D", "", text)
    if vr == "TM" and re.fullmatch(r"\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?", text):
        return text.replace(":", "")
    if vr == "CS" and text.upper() != text:
        return text.upper()
    if vr == "DS":
        try:
            return str(valuerep.DS(float(text), auto_format=True))
        except ValueError:
            return None
    return None


def _valid(vr: str, value) -> bool:
    try:
        valuerep.validate_value(vr, value, pydicom.config.RAISE)
    except (ValueError, TypeError):
        return False
    return True


def repair_invalid_values(dataset) -> Counter:
    """Repair, in place, the top-level text values of ``dataset`` that are invalid for their VR: a bare number
    as an age (``38`` → ``038Y``), dates and times with separators, lower-case code strings, over-long decimal
    strings. A value that cannot be repaired is emptied (allowed for the Type 2 and 3 attributes that outputs copy
    from a source). UIDs stay as they are, since outputs reference them. Values are never logged, only counts.

    Returns:
        the counts ``{"repaired": n, "emptied": m}``.
    """
    counts: Counter = Counter()
    for element in dataset:
        values = list(element.value) if isinstance(element.value, pydicom.multival.MultiValue) else [element.value]
        # text only: numbers, binary data and sequences are typed by pydicom; UT and UR hold free text; UIDs
        # are referenced verbatim
        if element.VR in ("UI", "UT", "UR") or not all(isinstance(v, str) for v in values) or element.value == "":
            continue
        if all(_valid(element.VR, v) for v in values):
            continue
        fixed = [v if _valid(element.VR, v) else _repaired(element.VR, v) for v in values]
        if all(v is not None and _valid(element.VR, v) for v in fixed):
            element.value = fixed if len(fixed) > 1 else fixed[0]
            counts["repaired"] += 1
        else:
            element.value = ""
            counts["emptied"] += 1
    if counts:
        logger.info(
            "%d copied value(s) invalid for their VR repaired, %d emptied", counts["repaired"], counts["emptied"]
        )
    return counts


def _referenceable(source):
    """A copy of the source with the Type 2 references present (empty when absent), as highdicom requires, and
    its values invalid for their VR repaired or emptied."""
    source = copy.deepcopy(source)
    repair_invalid_values(source)
    for keyword in _TYPE2_REFERENCES:
        if keyword not in source:
            setattr(source, keyword, "")
    return source


@withheld_library_messages()
def write_segmentation(
    source,
    mask: np.ndarray,
    path: str | os.PathLike,
    algorithm_name: str,
    algorithm_version: str,
    finding: str = "pneumothorax",
    series_number: int = 901,
):
    """Write a binary DICOM SEG of ``mask`` over ``source``.

    The one segment is typed by the finding's SNOMED CT concept (property category *Morphologically abnormal
    structure*), marked AUTOMATIC with the algorithm's name and version, and references the source instance.

    Args:
        source: the source radiograph (``pydicom.Dataset``).
        mask: ``[rows, columns]`` mask in the source's pixel grid (non-zero = finding).
        path: the output file.
        algorithm_name: e.g. the bundle name.
        algorithm_version: e.g. the bundle version.
        finding: the segmented finding's name (see :data:`FINDING_CODES`).
        series_number: the new series' number.

    Returns:
        the ``highdicom.seg.Segmentation`` written.

    Raises:
        ValueError: when the mask's shape is not the source's.
    """
    mask = np.asarray(mask)
    if mask.shape != (source.Rows, source.Columns):
        raise ValueError(f"mask shape {mask.shape} differs from the source's ({source.Rows}, {source.Columns})")
    concept = finding_concept(finding)
    description = hd.seg.SegmentDescription(
        segment_number=1,
        segment_label=concept.meaning,
        segmented_property_category=codes.SCT.MorphologicallyAbnormalStructure,
        segmented_property_type=concept,
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
        algorithm_identification=hd.AlgorithmIdentificationSequence(
            name=algorithm_name, family=codes.DCM.ArtificialIntelligence, version=algorithm_version
        ),
    )
    reference = _referenceable(source)
    if "PixelSpacing" in reference and "SliceThickness" not in reference:
        # Projection radiographs have no slice thickness, which highdicom's reader requires of Pixel Measures;
        # without a frame of reference the SEG needs none (its grid is the referenced source's)
        del reference.PixelSpacing
    segmentation = hd.seg.Segmentation(
        source_images=[reference],
        pixel_array=(mask > 0)[None],
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=[description],
        series_instance_uid=hd.UID(),
        series_number=series_number,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer="msfm",
        manufacturer_model_name=algorithm_name,
        software_versions=algorithm_version,
        device_serial_number="none",
        series_description=f"{algorithm_name} {finding}",
        omit_empty_frames=False,  # a negative result is still a SEG
    )
    # General Image, Type 2C without a patient coordinate system; the SEG shares the source's pixel grid
    segmentation.PatientOrientation = reference.get("PatientOrientation", "")
    segmentation.save_as(path)
    return segmentation


@withheld_library_messages()
def write_findings_report(
    source,
    probabilities: Mapping[str, float],
    path: str | os.PathLike,
    algorithm_name: str,
    algorithm_version: str,
    series_number: int = 902,
):
    """Write a Comprehensive SR (TID 1500 measurement report) with one probability per finding.

    Each finding is a measurement group (finding type = the finding's concept, measurement *Probability*, unit
    UCUM ``1``, the algorithm's name and version) that references the source image; the device observer is the
    algorithm.

    Args:
        source: the source radiograph (``pydicom.Dataset``).
        probabilities: finding name → probability in [0, 1].
        path: the output file.
        algorithm_name: e.g. the bundle name.
        algorithm_version: e.g. the bundle version.
        series_number: the new series' number.

    Returns:
        the ``highdicom.sr.ComprehensiveSR`` written.

    Raises:
        ValueError: when a probability is outside [0, 1] or not finite, or there are none.
    """
    if not probabilities:
        raise ValueError("no probabilities to report")
    for name, value in probabilities.items():
        if not 0.0 <= float(value) <= 1.0:
            raise ValueError(f"probability of {name!r} is {value}, outside [0, 1]")
    source = _referenceable(source)
    algorithm = hd.sr.AlgorithmIdentification(name=algorithm_name, version=algorithm_version)
    groups = [
        hd.sr.MeasurementsAndQualitativeEvaluations(
            tracking_identifier=hd.sr.TrackingIdentifier(uid=hd.UID(), identifier=f"{algorithm_name} {name}"),
            finding_type=finding_concept(name),
            algorithm_id=algorithm,
            source_images=[hd.sr.SourceImageForMeasurementGroup.from_source_image(source)],
            measurements=[
                hd.sr.Measurement(
                    name=codes.DCM.Probability,
                    value=float(value),
                    unit=codes.UCUM.NoUnits,
                    algorithm_id=algorithm,
                )
            ],
        )
        for name, value in probabilities.items()
    ]
    observer = hd.sr.ObserverContext(
        observer_type=codes.DCM.Device,
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=hd.UID(), name=algorithm_name, manufacturer_name="msfm", model_name=algorithm_version
        ),
    )
    report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_device_context=observer),
        procedure_reported=hd.sr.CodedConcept(*PLAIN_CHEST_XRAY),
        imaging_measurements=groups,
    )
    document = hd.sr.ComprehensiveSR(
        evidence=[source],
        content=report,
        series_instance_uid=hd.UID(),
        series_number=series_number,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer="msfm",
        series_description=f"{algorithm_name} findings",
    )
    document.save_as(path)
    return document
