from __future__ import annotations

import json

import pytest

from msfm.data import datalist_classes, load_split, read_radiograph
from msfm.demo import DEMO_TASKS, FINDING_TYPES, ensure_demo_task, make_demo_tasks
from msfm.metrics import boxes_to_mask


@pytest.fixture(scope="module")
def tasks(tmp_path_factory):
    root = tmp_path_factory.mktemp("tasks")
    make_demo_tasks(root, n_train=30, n_validation=10, n_test=10, image_size=64)
    return root


def test_every_task_has_splits_and_nested_fractions(tasks):
    for task in DEMO_TASKS:
        full = json.loads((tasks / task / "datalist.json").read_text())
        assert all(full[split] for split in ("training", "validation", "test")), task
        small = {e["image"] for e in json.loads((tasks / task / "datalist_10.json").read_text())["training"]}
        assert small and small <= {e["image"] for e in full["training"]}
    assert datalist_classes(tasks / "classification" / "datalist.json") == list(FINDING_TYPES)


def test_labels_masks_and_boxes_agree_with_the_pictures(tasks):
    classification = {e["image"]: e["label"] for e in load_split(tasks / "classification" / "datalist.json", "test", tasks)}
    for entry in load_split(tasks / "segmentation" / "datalist.json", "test", tasks):
        mask = read_radiograph(entry["label"]) > 0.5
        image = read_radiograph(entry["image"])
        assert mask.any() == bool(classification[entry["image"]][FINDING_TYPES.index("pneumothorax")])
        if mask.any():  # a pneumothorax is air: darker than the rest of the lung
            assert image[mask].mean() < 0.2
    for entry in load_split(tasks / "grounding" / "datalist.json", "test", tasks):
        image = read_radiograph(entry["image"])
        inside = boxes_to_mask(entry["boxes"], image.shape).numpy()
        assert inside.any() and entry["phrase"].endswith(".")
        if entry["category"] in ("nodule", "effusion"):  # drawn brighter than the lung around them
            assert image[inside].mean() > image[~inside].mean()


def test_missing_or_empty_split_is_named(tmp_path):
    path = tmp_path / "datalist.json"
    path.write_text(json.dumps({"training": [{"image": "a.png"}], "validation": []}))
    with pytest.raises(ValueError, match="datalist.json: the 'validation' split is missing or empty"):
        load_split(path, "validation", tmp_path)
    with pytest.raises(ValueError, match="'test' split"):
        load_split(path, "test", tmp_path)
    assert load_split(path, "training", tmp_path)[0]["image"] == str(tmp_path / "a.png")
    with pytest.raises(ValueError, match="unknown demo task"):
        ensure_demo_task(tmp_path, "detection")
