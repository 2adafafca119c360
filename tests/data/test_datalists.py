from __future__ import annotations

import json

import pytest

from msfm.data import load_split


@pytest.fixture
def datalist(tmp_path):
    content = {
        "classes": ["pneumonia"],
        "training": [{"image": "a.png"}, {"image": "b.png"}],
        "validation": [{"image": "c.png"}],
        "test": [{"image": "d.png"}],
    }
    path = tmp_path / "datalist.json"
    path.write_text(json.dumps(content))
    return path


def test_one_several_or_every_split(datalist):
    names = lambda entries: [entry["image"].rsplit("/", 1)[-1] for entry in entries]  # noqa: E731
    assert names(load_split(datalist, "test")) == ["d.png"]
    assert names(load_split(datalist, ["validation", "test"])) == ["c.png", "d.png"]
    assert names(load_split(datalist, "all")) == ["a.png", "b.png", "c.png", "d.png"]  # not the class names
    assert load_split(datalist, "test", base_dir="/data")[0]["image"] == "/data/d.png"


def test_missing_split_and_missing_datalist_are_named(datalist):
    with pytest.raises(ValueError, match="datalist.json: the 'tset' split"):
        load_split(datalist, "tset")
    with pytest.raises(ValueError, match="--datalist"):
        load_split(None, "test")
