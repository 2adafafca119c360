"""Each preparer on fixtures in the official layout: counts, labels, masks, boxes, orientation, errors, PHI."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from msfm.data import read_radiograph
from msfm.data.datasets import PreparationError, dataset_options, decode_rle, encode_rle, prepare_dataset
from tests.conftest import REPO_ROOT
from tests.data.datasets import fixtures


def load(out, name="datalist.json"):
    return json.loads((out / name).read_text())


def test_mimic(tmp_path):
    fixtures.make_mimic(tmp_path / "root")
    prepare_dataset("mimic", tmp_path / "root", tmp_path / "out")
    datalist = load(tmp_path / "out")
    assert [len(datalist[s]) for s in ("training", "validation", "test")] == [1, 1, 1]  # the lateral is filtered
    train = datalist["training"][0]
    assert train["image"] == "files/p10/p10000001/s50000001/d1.jpg"
    assert train["report"] == (
        "There is a new opacity in the right lower lobe. No pleural effusion or pneumothorax. "
        "Right lower lobe pneumonia."
    )
    assert datalist["validation"][0]["report"] == "Heart size normal. Lungs are clear."  # the wet-read stamp dropped
    assert load(tmp_path / "out", "summary.json")["filtered"] == {"view": 1}


def test_mimic_findings_from_its_chexpert_labels(tmp_path):
    fixtures.make_mimic(tmp_path, chexpert_labels=True)
    prepare_dataset("mimic", tmp_path, tmp_path / "out")
    datalist = load(tmp_path / "out")
    findings = {e["image"].split("/")[-1]: e["findings"] for s in ("training", "validation", "test") for e in datalist[s]}
    assert findings == {"d1.jpg": ["Pneumonia"], "d3.jpg": [], "d4.jpg": ["Cardiomegaly", "Pleural Effusion"]}


def test_mimic_empty_report_error_or_counted_skip(tmp_path):
    fixtures.make_mimic(tmp_path / "root", empty_report=True)
    with pytest.raises(PreparationError, match=r"s50000003.txt: the report has no usable text"):
        prepare_dataset("mimic", tmp_path / "root", tmp_path / "out")
    summary = prepare_dataset("mimic", tmp_path / "root", tmp_path / "out", on_error="skip")
    assert summary["splits"]["test"]["count"] == 0
    assert summary["filtered"]["empty_report"] == 1
    assert summary["skipped"][0]["file"].endswith("s50000003.txt")


def test_chexpert_uncertainty_policy_and_splits(tmp_path):
    fixtures.make_chexpert(tmp_path)
    prepare_dataset("chexpert", tmp_path, tmp_path / "out", validation_size=3)
    datalist = load(tmp_path / "out")
    assert datalist["classes"] == ["Atelectasis", "Cardiomegaly", "Consolidation", "Edema", "Pleural Effusion"]
    assert len(datalist["training"]) + len(datalist["validation"]) == 11 and len(datalist["validation"]) == 3
    assert len(datalist["test"]) == 3 and all(e["label"] == [0, 0, 1, 0, 0] for e in datalist["test"])
    by_row = {
        int(e["image"].split("patient")[1][:5]): e["label"] for e in datalist["training"] + datalist["validation"]
    }
    # default: U-ones for Atelectasis and Edema, U-zeros elsewhere; blanks are 0
    assert by_row[3] == [0, 0, 0, 1, 0] and by_row[2] == [0, 1, 0, 0, 0] and by_row[1] == [1, 0, 0, 0, 0]
    assert by_row[6] == [0, 1, 0, 1, 0]
    prepare_dataset("chexpert", tmp_path, tmp_path / "zeros", validation_size=3, uncertain_ones=(), label_set="14")
    zeros = load(tmp_path / "zeros")
    assert len(zeros["classes"]) == 14 and all(e["label"][5] == 0 for e in zeros["training"] + zeros["validation"])


def test_nih_header_quirk_and_official_lists(tmp_path):
    fixtures.make_nih(tmp_path)
    prepare_dataset("nih", tmp_path, tmp_path / "out", validation_size=1)
    datalist = load(tmp_path / "out")
    classes = datalist["classes"]
    labels = {
        e["image"].split("/")[-1]: e["label"] for split in ("training", "validation", "test") for e in datalist[split]
    }
    assert len(labels) == 6 and {e["image"].split("/")[-1] for e in datalist["test"]} == {
        "00000004_000.png",
        "00000005_000.png",
    }
    assert labels["00000001_001.png"] == [float(c in ("Cardiomegaly", "Emphysema")) for c in classes]
    assert sum(labels["00000002_000.png"]) == 0  # No Finding
    assert labels["00000003_000.png"][classes.index("Pneumothorax")] == 1
    # patient 1's two images stay together
    splits_of_patient_1 = {s for s in ("training", "validation") for e in datalist[s] if "00000001_" in e["image"]}
    assert len(splits_of_patient_1) == 1


def test_rsna_boxes_grouped_per_patient(tmp_path):
    boxes = fixtures.make_rsna(tmp_path)
    prepare_dataset("rsna", tmp_path, tmp_path / "out", validation_size=1, test_size=1)
    datalist = load(tmp_path / "out")
    entries = {e["image"]: e for s in ("training", "validation", "test") for e in datalist[s]}
    assert len(entries) == 3 and datalist["classes"] == ["Pneumonia"]
    for patient, expected in boxes.items():
        entry = entries[f"stage_2_train_images/{patient}.dcm"]
        assert entry["boxes"] == expected and entry["label"] == [float(bool(expected))]


def test_siim_masks_decode_and_align_with_the_image(tmp_path):
    expected = fixtures.make_siim(tmp_path)
    prepare_dataset("siim", tmp_path, tmp_path / "out", validation_size=1, test_size=1)
    datalist = load(tmp_path / "out")
    entries = {e["image"].split("/")[-1][:-4]: e for s in ("training", "validation", "test") for e in datalist[s]}
    assert set(entries) == set(expected)
    for image_id, mask in expected.items():
        entry = entries[image_id]
        assert entry["positive"] == bool(mask.any())
        decoded = read_radiograph(tmp_path / entry["label"]) > 0.5
        assert decoded.shape == read_radiograph(tmp_path / entry["image"]).shape == (48, 64)
        assert np.array_equal(decoded, mask)
    # the first component covers the bright block of the (JPEG-compressed) image: same orientation
    image = read_radiograph(tmp_path / entries["1.2.3.1"]["image"])
    mask = read_radiograph(tmp_path / entries["1.2.3.1"]["label"]) > 0.5
    assert image[mask].mean() > 3 * image[~mask].mean()


def test_siim_headerless_bom_variant(tmp_path):
    fixtures.make_siim(tmp_path, header=False)
    assert (tmp_path / "train-rle.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    summary = prepare_dataset("siim", tmp_path, tmp_path / "out", validation_size=1, test_size=1)
    assert sum(s["count"] for s in summary["splits"].values()) == 3


def test_rle_known_values_and_round_trip():
    # column-major: pixel k is (row k % rows, column k // rows); starts are relative to the previous run's end
    mask = decode_rle("1 2 3 1", rows=3, columns=4)
    expected = np.zeros((3, 4), bool)
    expected[1, 0] = expected[2, 0] = True  # flat 1-2
    expected[0, 2] = True  # flat 3 + 3 = 6
    assert np.array_equal(mask, expected)
    random = np.random.default_rng(0).random((7, 5)) > 0.6
    assert np.array_equal(decode_rle(encode_rle(random), 7, 5), random)
    with pytest.raises(ValueError, match="past the"):
        decode_rle("10 5", rows=3, columns=4)


def test_mscxr_merges_boxes_per_phrase(tmp_path):
    fixtures.make_mscxr(tmp_path)
    prepare_dataset("mscxr", tmp_path, tmp_path / "out")
    datalist = load(tmp_path / "out")
    (pneumonia,) = datalist["training"]
    assert pneumonia["phrase"] == "right lower lobe pneumonia" and pneumonia["category"] == "Pneumonia"
    assert pneumonia["boxes"] == [[3.0, 2.0, 18.0, 12.0], [40.0, 30.0, 10.0, 10.0]]
    assert [e["phrase"] for e in datalist["validation"]] == ["enlarged heart"]
    assert [e["image"] for e in datalist["test"]] == ["files/p11/p11000001/s50000009/b2.jpg"]
    # the first box of the fixture frames the bright block of the image
    x, y, w, h = (int(v) for v in pneumonia["boxes"][0])
    image = read_radiograph(tmp_path / pneumonia["image"])
    assert image[y : y + h, x : x + w].mean() > 0.6 and image.mean() < 0.3


def test_mscxr_without_split_column_is_all_test(tmp_path):
    fixtures.make_mscxr(tmp_path, split_column=False)
    summary = prepare_dataset("mscxr", tmp_path, tmp_path / "out")
    assert summary["splits"]["test"]["count"] == 3 and summary["splits"]["training"]["count"] == 0


def test_label_fractions_nested_stratified_deterministic(tmp_path):
    fixtures.make_chexpert(tmp_path, train_rows=60)
    prepare_dataset("chexpert", tmp_path, tmp_path / "a", fractions=(0.1, 0.5, 1.0), validation_size=5, seed=3)
    prepare_dataset("chexpert", tmp_path, tmp_path / "b", fractions=(0.1, 0.5, 1.0), validation_size=5, seed=3)
    subsets = {p: {e["image"] for e in load(tmp_path / "a", f"datalist_{p}.json")["training"]} for p in (10, 50, 100)}
    assert subsets[10] <= subsets[50] <= subsets[100]
    assert subsets[100] == {e["image"] for e in load(tmp_path / "a")["training"]}
    assert load(tmp_path / "a", "datalist_10.json") == load(tmp_path / "b", "datalist_10.json")
    full = load(tmp_path / "a", "datalist_100.json")["training"]
    half = load(tmp_path / "a", "datalist_50.json")["training"]
    share = lambda entries: np.mean([e["label"][1] for e in entries])  # noqa: E731 (Cardiomegaly)
    assert abs(share(half) - share(full)) < 0.1
    summary = load(tmp_path / "a", "summary.json")
    assert summary["fractions"]["10"]["count"] == len(subsets[10]) and "prevalence" in summary["splits"]["training"]


def test_split_files(tmp_path):
    fixtures.make_nih(tmp_path)
    (tmp_path / "tr.txt").write_text("00000001_000.png\n00000002_000.png\n")
    (tmp_path / "te.txt").write_text("00000005_000\n")
    prepare_dataset(
        "nih",
        tmp_path,
        tmp_path / "out",
        validation_size=1,
        split_files={"training": tmp_path / "tr.txt", "test": tmp_path / "te.txt"},
    )
    datalist = load(tmp_path / "out")
    assert [len(datalist[s]) for s in ("training", "validation", "test")] == [2, 0, 1]
    (tmp_path / "bad.txt").write_text("99999999_000.png\n")
    with pytest.raises(PreparationError, match="bad.txt: 1 listed image"):
        prepare_dataset("nih", tmp_path, tmp_path / "out2", split_files={"test": tmp_path / "bad.txt"})


@pytest.mark.parametrize("dataset", ["rsna", "chexpert"])
def test_missing_file_error_or_counted_skip(tmp_path, dataset):
    if dataset == "rsna":
        fixtures.make_rsna(tmp_path)
        victim = tmp_path / "stage_2_train_images" / "p-one.dcm"
        options = {"validation_size": 0, "test_size": 0}
    else:
        fixtures.make_chexpert(tmp_path)
        victim = next((tmp_path / "CheXpert-v1.0-small" / "train" / "patient00002").rglob("*.jpg"))
        options = {"validation_size": 0}
    victim.unlink()
    with pytest.raises(PreparationError, match=f"{victim.name}: image file not found"):
        prepare_dataset(dataset, tmp_path, tmp_path / "out", **options)
    summary = prepare_dataset(dataset, tmp_path, tmp_path / "out", on_error="skip", **options)
    assert [s["file"] for s in summary["skipped"]] == [str(victim)]
    assert load(tmp_path / "out", "summary.json")["skipped"][0]["problem"] == "image file not found"


def test_truncated_images_with_verification(tmp_path):
    fixtures.make_chexpert(tmp_path)
    victim = next((tmp_path / "CheXpert-v1.0-small" / "train" / "patient00004").rglob("*.jpg"))
    victim.write_bytes(victim.read_bytes()[:60])
    fixtures.make_rsna(tmp_path / "rsna")
    dicom = tmp_path / "rsna" / "stage_2_train_images" / "p-two.dcm"
    dicom.write_bytes(dicom.read_bytes()[:-200])  # header intact, pixel data cut
    with pytest.raises(PreparationError, match=f"{victim.name}: cannot decode image"):
        prepare_dataset("chexpert", tmp_path, tmp_path / "out", validation_size=0, verify=True)
    summary = prepare_dataset("chexpert", tmp_path, tmp_path / "out", validation_size=0, verify=True, on_error="skip")
    assert [s["file"] for s in summary["skipped"]] == [str(victim)] and summary["splits"]["training"]["count"] == 10
    summary = prepare_dataset(
        "rsna", tmp_path / "rsna", tmp_path / "out2", validation_size=0, test_size=0, verify=True, on_error="skip"
    )
    # caught before decoding now (test_truncated_dicoms_are_caught_without_decoding); the decode would catch it too
    assert [s["file"] for s in summary["skipped"]] == [str(dicom)] and "unreadable DICOM file" in summary["skipped"][0][
        "problem"
    ]


def test_csv_with_missing_columns(tmp_path):
    fixtures.make_rsna(tmp_path)
    (tmp_path / "stage_2_train_labels.csv").write_text("patientId,x,y,Target\np-one,1,2,1\n")
    with pytest.raises(PreparationError, match=r"stage_2_train_labels.csv: missing column\(s\) \['width', 'height'\]"):
        prepare_dataset("rsna", tmp_path, tmp_path / "out", on_error="skip")


def test_box_outside_the_image(tmp_path):
    fixtures.make_rsna(tmp_path)
    with open(tmp_path / "stage_2_train_labels.csv", "a") as f:
        f.write("p-one,60.0,40.0,10.0,10.0,1\n")  # the image is 64 x 48
    with pytest.raises(PreparationError, match=r"patientId p-one: box \[60.0, 40.0, 10.0, 10.0\] outside the 64x48"):
        prepare_dataset("rsna", tmp_path, tmp_path / "out", validation_size=0, test_size=0)
    summary = prepare_dataset("rsna", tmp_path, tmp_path / "out", validation_size=0, test_size=0, on_error="skip")
    assert summary["splits"]["training"]["count"] == 2 and len(summary["skipped"]) == 1
    fixtures.make_mscxr(tmp_path / "ms")
    csv_path = tmp_path / "ms" / "MS_CXR_Local_Alignment_v1.1.0.csv"
    csv_path.write_text(csv_path.read_text().replace(",44,0,20,15,", ",50,0,20,15,"))
    with pytest.raises(PreparationError, match="dicom_id b2: box .* outside the 64x48 image"):
        prepare_dataset("mscxr", tmp_path / "ms", tmp_path / "out")


def test_box_rounding_overshoot_is_clipped(tmp_path):
    fixtures.make_rsna(tmp_path)
    with open(tmp_path / "stage_2_train_labels.csv", "a") as f:
        f.write("p-one,54.5,40.0,10.0,8.5,1\n")  # overshoots the 64 x 48 image by 0.5 px in x and y
    prepare_dataset("rsna", tmp_path, tmp_path / "out", validation_size=0, test_size=0)
    (entry,) = [e for e in load(tmp_path / "out")["training"] if e["image"].endswith("p-one.dcm")]
    assert entry["boxes"] == [[5.5, 6.0, 7.0, 8.0], [54.5, 40.0, 9.5, 8.0]]


def test_rle_past_the_image(tmp_path):
    fixtures.make_siim(tmp_path)
    with open(tmp_path / "train-rle.csv", "a") as f:
        f.write("1.2.3.2, 3000 100\n")
    with pytest.raises(PreparationError, match=r"train-rle.csv: ImageId 1.2.3.2: a run ends at pixel 3100, past the"):
        prepare_dataset("siim", tmp_path, tmp_path / "out", validation_size=0, test_size=0)


def test_unreadable_dicom_header(tmp_path):
    fixtures.make_rsna(tmp_path)
    (tmp_path / "stage_2_train_images" / "p-neg.dcm").write_bytes(b"not a dicom at all")
    with pytest.raises(PreparationError, match=r"p-neg.dcm: unreadable DICOM file"):
        prepare_dataset("rsna", tmp_path, tmp_path / "out", validation_size=0, test_size=0)


def run_prepare_cli(root, out, *options):
    command = [sys.executable, str(REPO_ROOT / "scripts" / "prepare_data.py"), "siim", "--root", str(root)]
    return subprocess.run(command + ["--out", str(out), *options], capture_output=True, text=True, timeout=120)


def test_cli_and_no_phi_anywhere(tmp_path):
    root = tmp_path / "root"
    fixtures.make_siim(root)
    fixtures.write_dicom(root / "dicom-images-train" / "x" / "y" / "1.2.3.9.dcm", fixtures.asymmetric(), jpeg=True)
    with open(root / "train-rle.csv", "a") as f:
        f.write("1.2.3.9, 1 2 3\n")  # odd count: malformed
    result = run_prepare_cli(root, tmp_path / "out", "--on-error", "skip", "--validation-size", "1", "--test-size", "1")
    assert result.returncode == 0, result.stderr
    assert "skipped: 1" in result.stdout
    written = result.stdout + result.stderr + "".join(p.read_text() for p in (tmp_path / "out").glob("*.json"))
    names = " ".join(str(p) for p in (tmp_path / "out").rglob("*"))
    for secret in (fixtures.PHI_NAME, fixtures.PHI_ID, fixtures.PHI_BIRTH, "20200102", "PLANTED"):
        assert secret not in written and secret not in names
    failed = run_prepare_cli(root, tmp_path / "out2")
    assert failed.returncode == 1 and "error:" in failed.stderr and "malformed run-length" in failed.stderr


def test_command_line_settings_map_to_each_preparer():
    assert dataset_options("mimic", reports_root="/r", all_views=False) == {"reports_root": "/r", "views": ("PA", "AP")}
    assert dataset_options("mimic", all_views=True) == {"views": None}
    assert dataset_options("chexpert", label_set="14", uncertain_ones="Edema, Atelectasis", validation_size=10) == {
        "label_set": "14",
        "validation_size": 10,
        "frontal_only": True,
        "uncertain_ones": ("Edema", "Atelectasis"),
    }
    assert dataset_options("nih", label_set=None, validation_size=None) == {}
    with pytest.raises(ValueError, match="--label-set does not apply to nih; it is for chexpert"):
        dataset_options("nih", label_set="5")
    with pytest.raises(ValueError, match="--test-size does not apply to chexpert"):
        dataset_options("chexpert", test_size=3)


@pytest.mark.parametrize("dataset", ["chexpert", "nih", "rsna", "siim"])
def test_small_subsets_prepare_without_size_flags(tmp_path, dataset, caplog):
    """A subset far smaller than the protocol's dataset gets splits in the protocol's proportions (at least one
    image each), with a note; an impossible explicit size names the flags."""
    {"chexpert": fixtures.make_chexpert, "nih": fixtures.make_nih, "rsna": fixtures.make_rsna, "siim": fixtures.make_siim}[
        dataset
    ](tmp_path)
    with caplog.at_level("WARNING"):
        prepare_dataset(dataset, tmp_path, tmp_path / "out")
    datalist = load(tmp_path / "out")
    assert datalist["training"] and datalist["validation"] and datalist["test"]
    assert "the protocol's proportion" in caplog.text
    with pytest.raises(PreparationError, match="--validation-size and --test-size"):
        prepare_dataset(dataset, tmp_path, tmp_path / "too_big", validation_size=10_000)


@pytest.mark.parametrize("kept", [0.8, 0.5])
def test_truncated_dicoms_are_caught_without_decoding(tmp_path, kept):
    """By default (no --verify-images), a DICOM cut short is a named error, or a counted skip."""
    fixtures.make_rsna(tmp_path)
    dicom = tmp_path / "stage_2_train_images" / "p-two.dcm"
    raw = dicom.read_bytes()
    dicom.write_bytes(raw[: int(len(raw) * kept)])
    with pytest.raises(PreparationError, match="p-two.dcm"):
        prepare_dataset("rsna", tmp_path, tmp_path / "out", validation_size=0, test_size=0)
    summary = prepare_dataset("rsna", tmp_path, tmp_path / "out", validation_size=0, test_size=0, on_error="skip")
    assert [s["file"] for s in summary["skipped"]] == [str(dicom)]


def test_native_pixel_data_shorter_than_the_header_says():
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian

    from msfm.data.datasets.dicom_header import pixel_data_problem

    dataset = Dataset()
    dataset.file_meta = FileMetaDataset()
    dataset.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset.Rows, dataset.Columns, dataset.BitsAllocated, dataset.SamplesPerPixel = 4, 5, 16, 1
    dataset.PixelData = bytes(40)
    assert pixel_data_problem(dataset) is None
    dataset.PixelData = bytes(30)
    assert pixel_data_problem(dataset) == "pixel data truncated (30 of 40 bytes)"
