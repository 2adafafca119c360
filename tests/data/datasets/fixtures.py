"""Small datasets in the official layouts, with known contents."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from msfm.data import make_dicom

PHI_NAME, PHI_ID, PHI_BIRTH = "PLANTED^PHI", "PHI-ID-4242", "19010101"


def asymmetric(rows: int = 48, columns: int = 64, value: int = 200) -> np.ndarray:
    """Dark image with a bright block at the top left: any flip or transposition shows."""
    image = np.full((rows, columns), 20, np.uint8)
    image[2:14, 3:21] = value
    return image


def write_dicom(
    path: Path,
    pixels: np.ndarray,
    jpeg: bool = False,
    photometric: str = "MONOCHROME2",
    slope: float | None = None,
    intercept: float | None = None,
    window: tuple | None = None,
) -> Path:
    """A DICOM with planted patient identifiers, which must never come out of msfm."""
    ds = make_dicom(pixels, jpeg=jpeg, photometric=photometric)
    ds.PatientName, ds.PatientID, ds.PatientBirthDate, ds.StudyDate = PHI_NAME, PHI_ID, PHI_BIRTH, "20200102"
    if slope is not None:
        ds.RescaleSlope, ds.RescaleIntercept = slope, intercept
    if window is not None:
        ds.WindowCenter, ds.WindowWidth = window
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def write_png(path: Path, pixels: np.ndarray, fmt: str = "PNG") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, format=fmt)
    return path


MIMIC_REPORT = """                                 FINAL REPORT
 EXAMINATION:  CHEST (PA AND LAT)

 INDICATION:  ___ year old woman with cough.

 FINDINGS:
 
 There is a new opacity in the right lower
 lobe.  No pleural effusion or pneumothorax.
 
 IMPRESSION:
 
 Right lower lobe pneumonia.
"""
MIMIC_NO_SECTIONS = "WET READ: ___ 3:15 PM\n  Heart size normal.  Lungs are clear.\n"


def make_mimic(root: Path, empty_report: bool = False, chexpert_labels: bool = False) -> None:
    rows = [  # dicom_id, study, subject, split, view
        ("d1", "50000001", "10000001", "train", "PA"),
        ("d2", "50000001", "10000001", "train", "LATERAL"),
        ("d3", "50000002", "10000002", "validate", "AP"),
        ("d4", "50000003", "11000003", "test", "PA"),
    ]
    reports = {
        "50000001": MIMIC_REPORT,
        "50000002": MIMIC_NO_SECTIONS,
        "50000003": "FINDINGS: ___\n" if empty_report else MIMIC_REPORT,
    }
    for dicom_id, study, subject, _, _ in rows:
        folder = root / "files" / f"p{subject[:2]}" / f"p{subject}"
        write_png(folder / f"s{study}" / f"{dicom_id}.jpg", asymmetric(), fmt="JPEG")
        (folder / f"s{study}.txt").write_text(reports[study])
    (root / "mimic-cxr-2.0.0-split.csv").write_text(
        "dicom_id,study_id,subject_id,split\n" + "".join(f"{d},{st},{su},{sp}\n" for d, st, su, sp, _ in rows)
    )
    header = (
        "dicom_id,subject_id,study_id,PerformedProcedureStepDescription,ViewPosition,Rows,Columns,StudyDate,"
        "StudyTime,ProcedureCodeSequence_CodeMeaning,ViewCodeSequence_CodeMeaning,"
        "PatientOrientationCodeSequence_CodeMeaning\n"
    )
    if chexpert_labels:  # MIMIC-CXR-JPG's label file: 1.0 positive, 0.0 negative, -1.0 uncertain, blank unmentioned
        (root / "mimic-cxr-2.0.0-chexpert.csv").write_text(
            "subject_id,study_id,Atelectasis,Cardiomegaly,No Finding,Pleural Effusion,Pneumonia\n"
            "10000001,50000001,,,,0.0,1.0\n10000002,50000002,,,1.0,,\n11000003,50000003,-1.0,1.0,,1.0,\n"
        )
    (root / "mimic-cxr-2.0.0-metadata.csv").write_text(
        header
        + "".join(
            f"{d},{su},{st},CHEST,{v},48,64,21800506,213014.531,CHEST,postero-anterior,Erect\n"
            for d, st, su, _, v in rows
        )
    )


CHEXPERT_HEADER = (
    "Path,Sex,Age,Frontal/Lateral,AP/PA,No Finding,Enlarged Cardiomediastinum,Cardiomegaly,"
    "Lung Opacity,Lung Lesion,Edema,Consolidation,Pneumonia,Atelectasis,Pneumothorax,"
    "Pleural Effusion,Pleural Other,Fracture,Support Devices\n"
)


def make_chexpert(root: Path, train_rows: int = 12) -> None:
    base = root / "CheXpert-v1.0-small"
    lines = []
    for i in range(train_rows):
        view = "Lateral" if i == 0 else "Frontal"
        path = f"CheXpert-v1.0-small/train/patient{i:05d}/study1/view1_{view.lower()}.jpg"
        write_png(root / path, asymmetric(), fmt="JPEG")
        # Cardiomegaly 1 on even rows, Edema uncertain on multiples of 3, Atelectasis uncertain on row 1
        cardio = "1.0" if i % 2 == 0 else ""
        edema = "-1.0" if i % 3 == 0 else "0.0"
        atel = "-1.0" if i == 1 else ""
        lines.append(f"{path},Female,68,{view},AP,,,{cardio},,,{edema},,,{atel},,,,,\n")
    (base / "train.csv").write_text(CHEXPERT_HEADER + "".join(lines))
    valid = []
    for i in range(3):
        path = f"CheXpert-v1.0-small/valid/patient{64541 + i}/study1/view1_frontal.jpg"
        write_png(root / path, asymmetric(), fmt="JPEG")
        valid.append(f"{path},Male,73,Frontal,AP,,,,,,,1.0,,,,0.0,,,\n")
    (base / "valid.csv").write_text(CHEXPERT_HEADER + "".join(valid))


def make_nih(root: Path) -> None:
    header = (
        "Image Index,Finding Labels,Follow-up #,Patient ID,Patient Age,Patient Gender,View Position,"
        "OriginalImage[Width,Height],OriginalImagePixelSpacing[x,y],\n"
    )
    rows = [
        ("00000001_000.png", "Cardiomegaly", "1"),
        ("00000001_001.png", "Cardiomegaly|Emphysema", "1"),
        ("00000002_000.png", "No Finding", "2"),
        ("00000003_000.png", "Effusion|Pneumothorax", "3"),
        ("00000004_000.png", "Hernia", "4"),
        ("00000005_000.png", "Nodule", "5"),
    ]
    for name, _, _ in rows:
        write_png(root / "images_001" / "images" / name, asymmetric())
    (root / "Data_Entry_2017.csv").write_text(
        header
        + "".join(f"{name},{labels},0,{patient},58,M,PA,2682,2749,0.143,0.143,\n" for name, labels, patient in rows)
    )
    (root / "train_val_list.txt").write_text("\n".join(n for n, _, _ in rows[:4]) + "\n")
    (root / "test_list.txt").write_text("\n".join(n for n, _, _ in rows[4:]) + "\n")


def make_rsna(root: Path) -> dict:
    """Three patients: one with two boxes, one negative, one with one box; JPEG-Baseline DICOMs, 64x48."""
    boxes = {"p-two": [[2.0, 3.0, 10.0, 12.0], [40.0, 20.0, 15.0, 20.0]], "p-neg": [], "p-one": [[5.5, 6.0, 7.0, 8.0]]}
    lines = ["patientId,x,y,width,height,Target\n"]
    for patient, patient_boxes in boxes.items():
        write_dicom(root / "stage_2_train_images" / f"{patient}.dcm", asymmetric(), jpeg=True)
        if patient_boxes:
            lines += [f"{patient},{x},{y},{w},{h},1\n" for x, y, w, h in patient_boxes]
        else:
            lines.append(f"{patient},,,,,0\n")
    (root / "stage_2_train_labels.csv").write_text("".join(lines))
    return boxes


def make_siim(root: Path, header: bool = True) -> dict:
    """Three images (nested study/series folders): two components on one, empty on another."""
    from msfm.data.datasets import encode_rle

    masks = {}
    first = np.zeros((48, 64), bool)
    first[2:14, 3:21] = True  # the bright block of ``asymmetric``
    second = np.zeros((48, 64), bool)
    second[30:40, 50:60] = True
    masks["1.2.3.1"] = (first, [encode_rle(first), encode_rle(second)])
    masks["1.2.3.2"] = (np.zeros((48, 64), bool), ["-1"])
    third = np.zeros((48, 64), bool)
    third[40:48, 0:5] = True  # touches the last row and column 0
    masks["1.2.3.3"] = (third, [encode_rle(third)])
    lines = ["ImageId, EncodedPixels\n"] if header else []
    for image_id, (_, encodings) in masks.items():
        write_dicom(
            root / "dicom-images-train" / f"st{image_id}" / f"se{image_id}" / f"{image_id}.dcm", asymmetric(), jpeg=True
        )
        lines += [f"{image_id}, {rle}\n" for rle in encodings]
    text = "".join(lines)
    (root / "train-rle.csv").write_bytes(text.encode("utf-8-sig" if not header else "utf-8"))
    return {image_id: (mask | second if image_id == "1.2.3.1" else mask) for image_id, (mask, _) in masks.items()}


def make_mscxr(root: Path, split_column: bool = True) -> None:
    write_png(root / "files/p10/p10000032/s50414267/a1.jpg", asymmetric(), fmt="JPEG")
    write_png(root / "files/p11/p11000001/s50000009/b2.jpg", asymmetric(), fmt="JPEG")
    header = "dicom_id,category_name,label_text,path,x,y,w,h,image_width,image_height"
    rows = [
        "a1,Pneumonia,right lower lobe pneumonia,files/p10/p10000032/s50414267/a1.jpg,3,2,18,12,64,48",
        "a1,Pneumonia,right lower lobe pneumonia,files/p10/p10000032/s50414267/a1.jpg,40,30,10,10,64,48",
        "a1,Cardiomegaly,enlarged heart,files/p10/p10000032/s50414267/a1.jpg,20,20,20,20,64,48",
        "b2,Pneumothorax,left apical pneumothorax,files/p11/p11000001/s50000009/b2.jpg,44,0,20,15,64,48",
    ]
    splits = ["train", "train", "val", "test"]
    if split_column:
        text = header + ",split\n" + "".join(f"{r},{s}\n" for r, s in zip(rows, splits))
        (root / "MS_CXR_Local_Alignment_v1.1.0.csv").write_text(text)
    else:
        (root / "MS_CXR_Local_Alignment_v1.0.0.csv").write_text(header + "\n" + "".join(f"{r}\n" for r in rows))
