"""Every config of the pretraining bundle parses, instantiates and has valid metadata."""

from __future__ import annotations

import json
import os
import pydoc
import re
import shutil
import subprocess
import sys

import pytest
from monai.bundle import ComponentLocator, ConfigParser, verify_metadata

from tests.bundles.helpers import CONFIGS, REPO_ROOT
from tests.conftest import SHARED_DIR

CONFIG_SETS = [
    ("train.json",),
    ("train.json", "demo.json"),
    ("train.json", "demo.json", "inference.json"),
    ("train.json", "demo.json", "multi_gpu_train.json"),
    ("train.json", "demo.json", "persistent_cache.json"),
]


def component_ids(config, prefix=""):
    """Ids of every ``_target_`` component in a raw config."""
    if isinstance(config, dict):
        if "_target_" in config and prefix:
            yield prefix
        items = config.items()
    elif isinstance(config, list):
        items = enumerate(config)
    else:
        return
    for key, value in items:
        yield from component_ids(value, f"{prefix}#{key}" if prefix else str(key))


@pytest.mark.parametrize("bundle", ["msfm", "msfm_cls", "msfm_seg", "msfm_zeroshot"])
def test_metadata_is_valid_against_the_official_schema(bundle):
    schema = SHARED_DIR / "monai" / "meta_schema_20240725.json"
    if not schema.exists():
        pytest.skip(f"official schema not found at {schema}")
    verify_metadata(meta_file=str(CONFIGS.parents[1] / bundle / "configs" / "metadata.json"), filepath=str(schema))


@pytest.mark.parametrize("bundle", ["msfm", "msfm_cls", "msfm_seg", "msfm_zeroshot"])
def test_bundle_layout_and_json_style(bundle):
    root = CONFIGS.parents[1] / bundle
    for name in ("LICENSE", "docs/README.md", "configs/metadata.json", "configs/logging.conf"):
        assert (root / name).is_file(), f"{bundle}: {name} missing"
    for config in (root / "configs").rglob("*.json"):
        text = config.read_text()
        assert text == json.dumps(json.loads(text), indent=4, ensure_ascii=False) + "\n", f"{config}: not 4-space JSON"


def instantiate_all(names, overrides: dict) -> int:
    """Parse the configs, run ``initialize`` when distributed, and instantiate every component."""
    parser = ConfigParser()
    parser.read_config([str(CONFIGS / n) for n in names])
    parser.update(overrides)
    assert "training" in parser.get() and "run" in parser.get()
    parser.get_parsed_content("prepare")  # the tokenizer (and with demo.json the corpus) that training prepares
    assert ("inferring" in parser.get()) == ("inference.json" in names)
    if "multi_gpu_train.json" in names:
        parser.get_parsed_content("initialize")
    ids = list(component_ids(parser.get()))
    assert "network_def" in ids and "train#trainer" in ids
    for component in ids:
        assert parser.get_parsed_content(component) is not None, component
    return len(ids)


@pytest.mark.parametrize("names", CONFIG_SETS, ids=["+".join(n) for n in CONFIG_SETS])
def test_every_component_instantiates(names, tmp_path, demo_dir):
    overrides = {
        "bundle_root": str(tmp_path),
        "output_dir": str(tmp_path / "out"),
        "dataset_dir": str(demo_dir),
        "datalist": str(demo_dir / "datalist.json"),
        "num_workers": 0,
        "batch_size": 8,  # the paper's 64 exceeds the small corpus's training split
    }
    if "multi_gpu_train.json" not in names:
        assert instantiate_all(names, overrides) > 20
        return
    # a process group (and ignite's cached view of it) must not leak into other tests: use a fresh process
    env = {
        **os.environ,
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": "29533",
        "RANK": "0",
        "LOCAL_RANK": "0",
        "WORLD_SIZE": "1",
    }
    code = f"from tests.bundles.test_configs import instantiate_all; print(instantiate_all({names!r}, {overrides!r}))"
    result = subprocess.run(
        [sys.executable, "-c", code], check=False, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]


def test_paper_scale_defaults():
    parser = ConfigParser()
    parser.read_config(str(CONFIGS / "train.json"))
    assert parser["image_size"] == 224
    assert {
        k: parser["image_encoder"][k] for k in ("patch_size", "hidden_size", "mlp_dim", "num_layers", "num_heads")
    } == {"patch_size": 16, "hidden_size": 768, "mlp_dim": 3072, "num_layers": 12, "num_heads": 12}
    for key in ("bundle_root", "dataset_dir", "datalist", "output_dir", "device", "batch_size"):
        assert key in parser.get()
    assert parser["train"]["trainer"]["max_epochs"] == "@max_epochs"


@pytest.mark.parametrize("bundle", ["msfm_seg", "msfm_cls"])
def test_deployable_inference_config(bundle):
    """What MONAI Label and MONAI Deploy read from ``inference.json`` alone is there, and every ``_target_`` and
    ``$msfm.`` reference in it resolves from the installed packages."""
    path = CONFIGS.parents[1] / bundle / "configs" / "inference.json"
    config = json.loads(path.read_text())
    assert {"network_def", "preprocessing", "inferer", "postprocessing", "inferring"} <= set(config)
    locator = ComponentLocator()
    text = json.dumps(config)
    targets = {v for k, v in _items(config) if k == "_target_"}
    assert targets and all(locator.get_component_module_name(t) or pydoc.locate(t) for t in targets), targets
    for name in set(re.findall(r"msfm(?:\.\w+)+", text)):
        assert pydoc.locate(name) is not None, f"{path}: {name} not importable"
    # inference.json repeats the network of train.json (it must stand alone): the two must not drift apart
    train = json.loads((path.parent / "train.json").read_text())
    for key in ("image_size", "intensity_mean", "intensity_std"):
        assert config[key] == train[key], key
    # linear_probe and the pretrained start only matter for training
    training_only = {"linear_probe", "pretrained_checkpoint"}
    assert {k: v for k, v in config["network_def"].items() if k not in training_only} == {
        k: v for k, v in train["network_def"].items() if k not in training_only
    }


def _items(config):
    if isinstance(config, dict):
        for key, value in config.items():
            yield key, value
            yield from _items(value)
    elif isinstance(config, list):
        for value in config:
            yield from _items(value)


RUN_IDS = {"run", "initialize", "finalize", "prepare", "training", "fitting", "evaluating", "inferring", "probing"}
PRETRAINING = ["msfm/train.json", "msfm/demo.json"]
PARSE_SETS = {
    "msfm": [["msfm/train.json"], PRETRAINING, [*PRETRAINING, "msfm/inference.json"]],
    "msfm_cls": [["msfm_cls/train.json"], ["msfm_cls/train.json", "msfm_cls/demo.json"],
                 ["msfm_cls/train.json", "msfm_cls/probe.json"], ["msfm_cls/inference.json"]],
    "msfm_seg": [["msfm_seg/train.json"], ["msfm_seg/train.json", "msfm_seg/demo.json"], ["msfm_seg/inference.json"]],
    "msfm_zeroshot": [["msfm/train.json", "msfm_zeroshot/evaluate.json"],
                      [*PRETRAINING, "msfm_zeroshot/evaluate.json", "msfm_zeroshot/demo.json"]],
}


@pytest.mark.parametrize("bundle", sorted(PARSE_SETS))
def test_parsing_writes_no_file(bundle, tmp_path, monkeypatch):
    """Resolving every id of every config (all but the run lists) in a fresh working copy writes nothing: demo
    data and tokenizers are made only by the ``prepare`` run step."""
    for name in PARSE_SETS:
        shutil.copytree(CONFIGS.parents[1] / name / "configs", tmp_path / "bundles" / name / "configs")
    monkeypatch.chdir(tmp_path)
    before = sorted(tmp_path.rglob("*"))
    for names in PARSE_SETS[bundle]:
        parser = ConfigParser()
        parser.read_config([f"bundles/{n.replace('/', '/configs/')}" for n in names])
        parser.parse()
        for key in parser.get():
            if key not in RUN_IDS:
                try:
                    parser.get_parsed_content(key)
                except Exception:  # missing data or weights may stop a component; writing is what matters
                    pass
    assert sorted(tmp_path.rglob("*")) == before
