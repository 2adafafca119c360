from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from msfm.data import load_split, report_sentences
from msfm.demo import ensure_demo_datalist, make_demo_dataset, synthesize_case


def test_deterministic_and_complete(tmp_path):
    first = make_demo_dataset(tmp_path / "a", n=12, seed=5, image_size=64)
    second = make_demo_dataset(tmp_path / "b", n=12, seed=5, image_size=64)
    a, b = json.load(open(first)), json.load(open(second))
    assert a == b
    assert len(a["training"]) + len(a["validation"]) == 12
    for entry in a["training"]:
        image_a = np.asarray(Image.open(tmp_path / "a" / entry["image"]))
        assert image_a.shape == (64, 64)
        assert np.array_equal(image_a, np.asarray(Image.open(tmp_path / "b" / entry["image"])))
        assert report_sentences(entry["report"])


def test_findings_are_drawn_where_the_report_says(tmp_path):
    """Patient's right is on the image's left; the zone is the third of the lung field."""
    datalist = json.load(open(make_demo_dataset(tmp_path, n=60, seed=0, image_size=128)))
    checked = 0
    for entry in datalist["training"] + datalist["validation"]:
        text = " ".join(report_sentences(entry["report"])).lower()
        for finding in entry["findings"]:
            x, y, w, h = finding["box"]
            if finding["type"] == "cardiomegaly":
                assert "enlarged" in text or "cardiomegaly" in text
                continue
            centre_x = x + w / 2
            assert (centre_x < 64) == (finding["side"] == "right")
            assert f"{finding['side']} " in text
            if finding["type"] in ("opacity", "nodule"):
                zone_top = 128 * (0.14 + ["upper", "middle", "lower"].index(finding["zone"]) * 0.24)
                assert zone_top - 12 <= y + h / 2 <= zone_top + 0.24 * 128 + 12
            checked += 1
    assert checked > 30


def test_ensure_creates_once(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the project root: demo data goes under its data/
    demo = tmp_path / "data" / "demo"
    path = ensure_demo_datalist(demo, n=5, seed=0, image_size=32)
    mtime = (demo / "datalist.json").stat().st_mtime
    assert ensure_demo_datalist(demo, n=5) == path
    assert (demo / "datalist.json").stat().st_mtime == mtime


def test_generation_refuses_a_folder_that_holds_other_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "data" / "mimic-cxr-jpg"
    (folder / "files").mkdir(parents=True)
    with pytest.raises(ValueError, match="not empty.*--datalist"):
        ensure_demo_datalist(folder, n=5, image_size=32)
    written = {p.name for p in folder.iterdir()} - {"files", "datalist.json.lock"}
    assert written == set()  # no image, no datalist


def test_generation_only_under_the_projects_data_folder(tmp_path, monkeypatch):
    """A user's empty folder elsewhere (``--dataset_dir /data/mimic`` with the demo configs) gets nothing."""
    from msfm.demo import ensure_demo_task

    monkeypatch.delenv("MSFM_DEMO_DATA_ROOT")  # the test suite's own allowance
    monkeypatch.chdir(tmp_path / "..")
    for ensure, folder in ((ensure_demo_datalist, tmp_path / "mimic"), (ensure_demo_task, tmp_path / "tasks")):
        with pytest.raises(ValueError, match="only under the project's data/ folder.*--datalist"):
            ensure(folder, *(("classification",) if ensure is ensure_demo_task else ()))
    assert list(tmp_path.iterdir()) == []


def test_reports_wrap_between_words():
    """Hard wraps fall between words, as in MIMIC-CXR: each finding's sentence survives cleaning verbatim."""
    from msfm.data import clean_report

    rng = np.random.default_rng(5)
    for _ in range(50):
        _, report, findings, _ = synthesize_case(rng, 32)
        assert all(len(line) <= 72 for line in report.splitlines())
        assert all(f["sentence"] in clean_report(report) for f in findings)


def test_validation_and_downstream_phrasing_never_occurs_in_pretraining(tmp_path):
    """Validation and every downstream demo set read the held-out phrasing bank, which pretraining never sees."""
    from msfm.demo import make_demo_tasks

    datalist = json.load(open(make_demo_dataset(tmp_path / "corpus", n=300, seed=0, image_size=32)))
    seen = {s for e in datalist["training"] for s in report_sentences(e["report"])}
    validation = {s for e in datalist["validation"] for s in report_sentences(e["report"])}
    tasks = make_demo_tasks(tmp_path / "tasks", n_train=40, n_validation=10, n_test=40, image_size=32)
    reports = [e["report"] for e in load_split(tasks / "retrieval" / "datalist.json", "all", tasks)]
    downstream = {s for report in reports for s in report_sentences(report)}
    phrases = {e["phrase"] for e in load_split(tasks / "grounding" / "datalist.json", "all", tasks)}
    assert len(validation) > 20 and len(downstream) > 20 and len(phrases) > 20
    assert not (validation | downstream | phrases) & seen
    normal = [e for e in datalist["training"] if not e["findings"]]
    assert 0.25 < len(normal) / len(datalist["training"]) < 0.45  # about a third normal, as in MIMIC-CXR
