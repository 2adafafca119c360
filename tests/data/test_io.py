from __future__ import annotations

import numpy as np
import pytest
from monai.transforms import LoadImage
from PIL import Image

from msfm.data import RadiographReader, read_radiograph
from tests.conftest import REPO_ROOT
from tests.data.datasets.fixtures import PHI_ID, PHI_NAME, asymmetric, write_dicom, write_png


def asymmetric_image(height=12, width=20):
    """Bright top-left block, so a transposition or a flip is visible."""
    image = np.zeros((height, width), np.uint8)
    image[:4, :6] = 255
    return image


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA", "I;16"])
def test_png_modes_load_as_grey_in_display_orientation(tmp_path, mode):
    grey = asymmetric_image()
    if mode == "I;16":
        img = Image.fromarray(grey.astype(np.uint16) * 257)
    else:
        img = Image.fromarray(grey).convert(mode)
    img.save(tmp_path / "x.png")
    image = read_radiograph(tmp_path / "x.png")
    assert image.shape == (12, 20)
    assert image[0, 0] == pytest.approx(1.0) and image[-1, -1] == pytest.approx(0.0)


def test_extension_that_lies(tmp_path):
    Image.fromarray(asymmetric_image()).save(tmp_path / "x.png")
    (tmp_path / "x.png").rename(tmp_path / "x.dcm")
    assert read_radiograph(tmp_path / "x.dcm").shape == (12, 20)
    write_dicom(tmp_path / "y.png", asymmetric_image())
    assert read_radiograph(tmp_path / "y.png")[0, 0] == pytest.approx(1.0)


def test_dicom_monochrome1_is_inverted(tmp_path):
    write_dicom(tmp_path / "m2.dcm", asymmetric_image())
    write_dicom(tmp_path / "m1.dcm", 255 - asymmetric_image(), photometric="MONOCHROME1")
    np.testing.assert_allclose(read_radiograph(tmp_path / "m1.dcm"), read_radiograph(tmp_path / "m2.dcm"))


def test_same_8_bit_pixels_give_the_same_tensor_in_every_container(tmp_path):
    """An 8-bit DICOM and a PNG of the same pixels (not spanning 0–255, so a per-image rescale would show) are
    the same image through the workflow's preprocessing, which training, evaluation and inference share."""
    from monai.bundle import ConfigParser

    pixels = asymmetric(value=180)
    files = {"dicom": write_dicom(tmp_path / "a.dcm", pixels), "png": write_png(tmp_path / "a.png", pixels)}
    assert read_radiograph(files["dicom"])[0, 0] == pytest.approx(20 / 255)
    parser = ConfigParser()
    parser.read_config(str(REPO_ROOT / "bundles" / "common" / "configs" / "workflow.json"))
    parser.update({"image_size": 32})
    preprocessing = parser.get_parsed_content("preprocessing")
    dicom, png = (preprocessing({"image": str(path)})["image"] for path in files.values())
    np.testing.assert_array_equal(np.asarray(dicom), np.asarray(png))


def test_dicom_16_bit_rescale_and_window(tmp_path):
    stored = np.tile(np.arange(0, 4000, 200, dtype=np.uint16), (4, 1))  # 20 columns
    write_dicom(tmp_path / "r.dcm", stored, slope=0.5, intercept=-1000, window=(0, 1000))
    image = read_radiograph(tmp_path / "r.dcm")
    hounsfield = stored * 0.5 - 1000  # window [-500, 500] clips everything outside
    expected = np.clip((hounsfield + 500) / 1000, 0, 1)
    np.testing.assert_allclose(image[0], (expected[0] - expected.min()) / (expected.max() - expected.min()), atol=2e-3)


def test_loadimage_with_reader_gives_channel_first_and_no_phi(tmp_path):
    write_dicom(tmp_path / "a.dcm", asymmetric_image())
    image = LoadImage(reader=RadiographReader(), image_only=True, ensure_channel_first=True)(tmp_path / "a.dcm")
    assert tuple(image.shape) == (1, 12, 20)
    assert float(image[0, 0, 0]) == pytest.approx(1.0)
    assert PHI_ID not in str(image.meta) and PHI_NAME.split("^")[0] not in str(image.meta)


def test_broken_files_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.png"):
        read_radiograph(tmp_path / "missing.png")
    Image.fromarray(asymmetric_image()).save(tmp_path / "t.png")
    (tmp_path / "t.png").write_bytes((tmp_path / "t.png").read_bytes()[:40])
    with pytest.raises(ValueError, match="t.png: cannot decode"):
        read_radiograph(tmp_path / "t.png")
    write_dicom(tmp_path / "t.dcm", asymmetric_image())
    (tmp_path / "t.dcm").write_bytes((tmp_path / "t.dcm").read_bytes()[:-100])
    with pytest.raises(ValueError, match="t.dcm: cannot decode"):
        read_radiograph(tmp_path / "t.dcm")


def test_reading_an_archive_header_emits_no_identifier(tmp_path, caplog, capfd):
    """A single-component name, an age and a date invalid for their VR, identifiers in several modules and in a
    private tag: loading the image prints, logs and warns none of them."""
    import logging
    import warnings

    import pydicom

    from tests.deploy.fixtures import MODULE_PHI, OTHER_PHI, PRIVATE_PHI, write_archive_radiograph

    path = write_archive_radiograph(tmp_path / "x.dcm")
    header = pydicom.dcmread(path)
    identifiers = [*MODULE_PHI.values(), *OTHER_PHI.values(), PRIVATE_PHI, "PLANTEDSINGLENAME"]
    identifiers += [header.StudyInstanceUID, header.SeriesInstanceUID, header.SOPInstanceUID]
    with caplog.at_level(logging.DEBUG), warnings.catch_warnings(record=True) as escaped:
        warnings.simplefilter("always")
        image = LoadImage(reader=RadiographReader(), image_only=True)(path)
    printed = capfd.readouterr()
    emitted = caplog.text + printed.out + printed.err + str(image.meta) + " ".join(str(w.message) for w in escaped)
    assert not [value for value in identifiers if value in emitted]
