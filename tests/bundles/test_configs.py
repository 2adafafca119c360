"""Every config of the pretraining bundle parses, instantiates and has valid metadata."""

from __future__ import annotations

import inspect
import itertools
import json
import os
import pydoc
import re
import shutil
import subprocess
import sys

import pytest
import torch
from monai.bundle import ComponentLocator, ConfigParser, verify_metadata

from msfm.networks import MSFMTextEncoder
from tests.bundles.helpers import CONFIGS, REPO_ROOT, WORKFLOW
from tests.conftest import SHARED_DIR

CONFIG_SETS = [
    ("train.json",),
    ("train.json", "demo.json"),
    ("train.json", "inference.json", "demo.json"),
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
    parser.read_config([str(WORKFLOW), *(str(CONFIGS / n) for n in names)])
    parser.update(overrides)
    assert "training" in parser.get() and "run" in parser.get()
    parser.get_parsed_content("prepare")  # the tokenizer (and with demo.json the corpus) that training prepares
    embedder = type(parser.get_parsed_content("network_def")).__name__ == "MSFMImageEmbedder"
    assert embedder == ("inference.json" in names)
    if "multi_gpu_train.json" in names:
        parser.get_parsed_content("initialize")
    # the common workflow's test evaluation (and, without inference.json, its inference) are not pretraining's
    unused = ("test#", "evaluator", "handlers") + (() if "inference.json" in names else ("infer#", "inference_handlers"))
    ids = [i for i in component_ids(parser.get()) if not i.startswith(unused)]
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
    """ViT-B/16 at 224 px and a BERT-base report encoder: the networks' own defaults, which train.json keeps."""
    parser = ConfigParser()
    parser.read_config([str(WORKFLOW), str(CONFIGS / "train.json")])
    assert parser["image_size"] == 224 and parser["batch_size"] == 64
    vit = parser.get_parsed_content("image_encoder").vit
    assert (vit.patch_embedding.patch_embeddings.kernel_size, vit.norm.normalized_shape, len(vit.blocks)) == ((16, 16), (768,), 12)
    assert (vit.blocks[0].mlp.linear1.out_features, vit.blocks[0].attn.num_heads) == (3072, 12)
    text = inspect.signature(MSFMTextEncoder).parameters
    sizes = {"hidden_size": 768, "num_layers": 12, "num_heads": 12, "intermediate_size": 3072}
    assert {k: text[k].default for k in sizes} == sizes and not set(sizes) & set(parser["text_encoder"])
    for key in ("bundle_root", "dataset_dir", "datalist", "output_dir", "device", "batch_size"):
        assert key in parser.get()
    assert parser["train"]["trainer"]["max_epochs"] == "@max_epochs"


@pytest.mark.parametrize("bundle", ["msfm", "msfm_seg", "msfm_cls"])
def test_deployable_inference_config(bundle):
    """``inference.json`` alone builds the bundle's network (what the model zoo's checks and ``ckpt_export``
    read); after the common workflow it has what MONAI Label and MONAI Deploy read, and every ``_target_`` and
    ``$msfm.`` reference resolves from the installed packages."""
    path = CONFIGS.parents[1] / bundle / "configs" / "inference.json"
    alone = ConfigParser()
    alone.read_config(str(path))
    network = alone.get_parsed_content("network_def")
    assert network(torch.zeros(1, 1, 224, 224)).shape[0] == 1
    layered = ConfigParser()
    layered.read_config([str(WORKFLOW), str(path)])
    assert {"network_def", "preprocessing", "inferer", "postprocessing", "inferring"} <= set(layered.get())
    config = layered.get()
    locator = ComponentLocator()
    text = json.dumps(config)
    targets = {v for k, v in _items(config) if k == "_target_"}
    assert targets and all(locator.get_component_module_name(t) or pydoc.locate(t) for t in targets), targets
    for name in set(re.findall(r"msfm(?:\.\w+)+", text)):
        assert pydoc.locate(name) is not None, f"{path}: {name} not importable"


def _items(config):
    if isinstance(config, dict):
        for key, value in config.items():
            yield key, value
            yield from _items(value)
    elif isinstance(config, list):
        for value in config:
            yield from _items(value)


RUN_IDS = {"run", "initialize", "finalize", "prepare", "training", "fitting", "evaluating", "inferring", "probing", "saving"}
W = "common/workflow.json"
PRETRAINING = [W, "msfm/train.json", "msfm/demo.json"]
CLS, SEG = [W, "msfm_cls/inference.json"], [W, "msfm_seg/inference.json"]
PARSE_SETS = {
    "msfm": [[W, "msfm/train.json"], PRETRAINING, [W, "msfm/train.json", "msfm/inference.json", "msfm/demo.json"]],
    "msfm_cls": [CLS, [*CLS, "msfm_cls/train.json"], [*CLS, "msfm_cls/train.json", "msfm_cls/demo.json"],
                 [*CLS, "msfm_cls/train.json", "msfm_cls/probe.json"], [*CLS, "msfm_cls/train.json", "common/evaluate.json"]],
    "msfm_seg": [SEG, [*SEG, "msfm_seg/train.json"], [*SEG, "msfm_seg/train.json", "msfm_seg/demo.json"]],
    "msfm_zeroshot": [[W, "msfm/train.json", "msfm_zeroshot/evaluate.json"],
                      [*PRETRAINING, "msfm_zeroshot/evaluate.json", "msfm_zeroshot/demo.json"]],
}


@pytest.mark.parametrize("bundle", sorted(PARSE_SETS))
def test_parsing_writes_no_file(bundle, tmp_path, monkeypatch):
    """Resolving every id of every config (all but the run lists) in a fresh working copy writes nothing: demo
    data and tokenizers are made only by the ``prepare`` run step."""
    for name in [*PARSE_SETS, "common"]:
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


def _leaves(config, path=()):
    if isinstance(config, dict):
        for key, value in config.items():
            yield from _leaves(value, (*path, key))
    elif isinstance(config, list) and config:
        for index, value in enumerate(config):
            yield from _leaves(value, (*path, index))
    else:
        yield path, json.dumps(config)


WIRING = sorted(p for p in CONFIGS.parents[1].glob("*/configs/*.json") if p.name != "metadata.json")
def test_configs_wire_without_copies():
    """Each shared block is defined once: no two configs share more than 30 % of the (key path, value) leaves of
    the smaller one (``bundle_root`` aside: each file a run can start from names its bundle); training configs
    hold at most 20 expressions; a task's network is defined in one file."""
    leaves = {path: set(_leaves(json.loads(path.read_text()))) for path in WIRING}
    for first, second in itertools.combinations(WIRING, 2):
        shared = {leaf for leaf in leaves[first] & leaves[second] if leaf[0] != ("bundle_root",)}
        share = len(shared) / min(len(leaves[first]), len(leaves[second]))
        assert share <= 0.3, f"{first.parent.parent.name}/{first.name} and {second.parent.parent.name}/{second.name}: {sorted(shared)}"
    for path in WIRING:
        if path.name in ("train.json", "workflow.json"):
            assert path.read_text().count('"$') <= 20, path
    for bundle in ("msfm_cls", "msfm_seg", "msfm_zeroshot"):
        defining = [p.name for p in WIRING if p.parent.parent.name == bundle and "network_def" in json.loads(p.read_text())]
        assert defining == ["inference.json"], (bundle, defining)


@pytest.mark.parametrize("bundle,task", [("msfm_cls", "classification"), ("msfm_seg", "segmentation")])
def test_downstream_demo_layering_builds_the_demo_network(bundle, task):
    """The demo configs of a downstream bundle (as the README, the suite and the MONAI Label app list them) give
    the demo encoder that the demo pretraining trains, and the bundle's demo task set."""
    from msfm.evaluation import SuiteSettings

    settings = SuiteSettings(REPO_ROOT, [], {}, REPO_ROOT, scale="demo", random_baseline=False)
    parser = ConfigParser()
    parser.read_config([f.strip("'") for f in settings.configs(bundle, "train.json").strip("[]").split(",")])
    parser.update({"pretrained_checkpoint": None, "class_names": ["a", "b"]})  # the demo data need not exist
    vit = parser.get_parsed_content("network_def").vit
    pretraining = ConfigParser()
    pretraining.read_config([str(WORKFLOW), str(CONFIGS / "train.json"), str(CONFIGS / "demo.json")])
    encoder = pretraining["image_encoder"]
    assert (vit.norm.normalized_shape[0], len(vit.blocks)) == (encoder["hidden_size"], encoder["num_layers"])
    assert parser.get_parsed_content("image_size") == pretraining.get_parsed_content("image_size") == 96
    assert parser.get_parsed_content("datalist").endswith(f"{task}/datalist_100.json")


def test_readme_commands_name_existing_configs():
    for doc in [REPO_ROOT / "README.md", *REPO_ROOT.glob("docs/*.md"), *REPO_ROOT.glob("bundles/*/docs/README.md")]:
        for path in re.findall(r"'(bundles/[\w/.]+\.json)'", doc.read_text()):
            assert (REPO_ROOT / path).is_file(), f"{doc.name}: {path}"


B = REPO_ROOT / "bundles"
PAPER_SCALE = {
    "pretraining": ([WORKFLOW, CONFIGS / "train.json"], "training", {}, "--datalist"),
    "classification": ([WORKFLOW, B / "msfm_cls/configs/inference.json", B / "msfm_cls/configs/train.json"], "training", {}, "--datalist"),
    "segmentation": ([WORKFLOW, B / "msfm_seg/configs/inference.json", B / "msfm_seg/configs/train.json"], "training", {}, "--datalist"),
    "zero-shot": ([WORKFLOW, CONFIGS / "train.json", B / "msfm_zeroshot/configs/evaluate.json"], "evaluating", {}, "--datalist"),
    "grounding": ([WORKFLOW, CONFIGS / "train.json", B / "msfm_zeroshot/configs/evaluate.json"], "evaluating",
                  {"zero_shot#evaluator": None}, "--grounding_datalist"),
    "retrieval": ([WORKFLOW, CONFIGS / "train.json", B / "msfm_zeroshot/configs/evaluate.json"], "evaluating",
                  {"zero_shot#evaluator": None, "grounding#evaluator": None}, "--retrieval_datalist"),
}


@pytest.mark.parametrize("name", PAPER_SCALE)
def test_paper_scale_configs_without_a_datalist_name_the_key_and_write_nothing(name, tmp_path, monkeypatch):
    """Parsing a paper-scale run with no datalist stops at the dataset, naming the setting, before anything is
    written (no demo data, no output folder), wherever it runs."""
    files, run_id, overrides, key = PAPER_SCALE[name]
    monkeypatch.chdir(tmp_path)
    parser = ConfigParser()
    parser.read_config([str(f) for f in files])
    parser.update({"bundle_root": str(tmp_path / "bundle"), "output_dir": str(tmp_path / "out"), **overrides})
    with pytest.raises(Exception) as error:
        parser.get_parsed_content(run_id)
    assert key + " FILE" in "".join(str(e) for e in (error.value, error.value.__cause__, error.value.__context__))
    assert list(tmp_path.iterdir()) == []
