from __future__ import annotations

import numpy as np
import pytest
from monai.transforms import LoadImage
from PIL import Image

from msfm.data import RadiographReader, read_radiograph
from tests.data.datasets.fixtures import PHI_ID, PHI_NAME, write_dicom


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
