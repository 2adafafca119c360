"""The pre-resized copy: small 8-bit PNGs that load like their originals, masks and boxes that still line up."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from msfm.data import load_split, read_radiograph, write_resized_dataset
from tests.conftest import REPO_ROOT
from tests.data.datasets.fixtures import write_dicom, write_png


@pytest.fixture
def dataset(tmp_path):
    root = tmp_path / "root"
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (300, 200), dtype=np.uint8)
    mask = np.zeros((300, 200), np.uint8)
    mask[60:180, 40:120] = 255
    write_dicom(root / "a" / "one.dcm", image)
    write_png(root / "a" / "one_mask.png", mask)
    write_png(root / "b" / "two.png", image[:150])
    entries = [
        {"image": "a/one.dcm", "label": "a/one_mask.png", "boxes": [[40.0, 60.0, 80.0, 120.0]]},
        {"image": "b/two.png", "label": [1.0]},
    ]
    datalist = root / "datalist.json"
    datalist.write_text(json.dumps({"training": entries[:1], "test": entries[1:]}))
    (root / "datalist_1.json").write_text(json.dumps({"training": entries[:1]}))
    return root, datalist


def test_images_masks_and_boxes_shrink_together(dataset, tmp_path):
    root, datalist = dataset
    out = tmp_path / "resized"
    counts = write_resized_dataset([datalist, root / "datalist_1.json"], root, out, size=60)
    assert counts == {"images": 2, "datalists": 2}
    (first,), (second,) = load_split(out / "datalist.json", "training"), load_split(out / "datalist.json", "test")
    image, mask = read_radiograph(first["image"]), read_radiograph(first["label"])
    assert image.shape == mask.shape == (60, 40) and read_radiograph(second["image"]).shape == (45, 60)
    original = torch.from_numpy(read_radiograph(root / "a" / "one.dcm"))[None, None]
    expected = torch.nn.functional.interpolate(original, size=(60, 40), mode="area")[0, 0].numpy()
    assert np.abs(image - expected).max() <= 0.5 / 255 + 1e-6  # the grey levels, rounded to 8 bits
    assert set(np.unique(mask)) == {0.0, 1.0} and mask[12:36, 8:24].all() and not mask[:10].any()
    assert first["boxes"] == [[8.0, 12.0, 16.0, 24.0]] and second["label"] == [1.0]
    assert json.loads((out / "datalist_1.json").read_text())["training"][0]["image"] == "a/one.png"


def test_resumes_and_never_writes_over_the_originals(dataset, tmp_path):
    root, datalist = dataset
    out = tmp_path / "resized"
    write_resized_dataset([datalist], root, out, size=60)
    written = (out / "b" / "two.png").stat().st_mtime_ns
    write_resized_dataset([datalist], root, out, size=60)
    assert (out / "b" / "two.png").stat().st_mtime_ns == written
    with pytest.raises(ValueError, match="another folder"):
        write_resized_dataset([datalist], root, root, size=60)


def test_command_line(dataset, tmp_path):
    root, datalist = dataset
    command = [sys.executable, str(REPO_ROOT / "scripts" / "resize_dataset.py"), str(datalist)]
    command += ["--dataset-dir", str(root), "--out", str(tmp_path / "out"), "--size", "50", "--workers", "2"]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert read_radiograph(tmp_path / "out" / "a" / "one.png").shape == (50, 33)
    result = subprocess.run([*command[:-3], "60"], capture_output=True, text=True, check=False)
    assert result.returncode == 1 and "longest side 50" in result.stderr  # a copy at another size stays as it is
    (root / "b" / "two.png").write_bytes(b"broken")
    command[command.index(str(tmp_path / "out"))] = str(tmp_path / "other")
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    assert result.returncode == 1 and "two.png" in result.stderr
