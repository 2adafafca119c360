"""The downstream bundles end to end on tiny data: training, test metrics, plots, MLflow, mask inference,
TorchScript export, the zero-shot suite, and the same commands on datasets prepared from the official layouts."""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest
import torch
from monai.bundle import ConfigParser
from monai.optimizers import WarmupCosineSchedule
from monai.transforms import Compose
from PIL import Image
from sklearn.metrics import roc_auc_score

from msfm.data import load_or_train_tokenizer, load_split, read_radiograph
from msfm.data.datasets import prepare_dataset
from msfm.demo import make_demo_tasks
from msfm.networks import MSFMImageEncoder, MSFMNet, MSFMTextEncoder
from tests.bundles.helpers import REPO_ROOT, bundle_command, run
from tests.data.datasets import fixtures

ENCODER = {"hidden_size": 32, "mlp_dim": 64, "num_layers": 4, "num_heads": 2}
TEXT = {"hidden_size": 16, "num_layers": 1, "num_heads": 2, "intermediate_size": 32}


WORKFLOW = REPO_ROOT / "bundles" / "common" / "configs" / "workflow.json"


def config_paths(bundle: str, *names: str) -> list[Path]:
    """A downstream run's configs: the common workflow, the bundle's ``inference.json`` (its network), then
    ``names`` of the bundle (``evaluate.json`` is the common one)."""
    folder = REPO_ROOT / "bundles" / bundle / "configs"
    extra = [WORKFLOW.parent / n if n == "evaluate.json" else folder / n for n in names]
    return [WORKFLOW, folder / "inference.json", *extra]


def configs(bundle: str, *names: str) -> str:
    return "[" + ",".join(f"'{p}'" for p in config_paths(bundle, *names)) + "]"


def parsed(bundle: str, *names: str) -> ConfigParser:
    parser = ConfigParser()
    parser.read_config([str(p) for p in config_paths(bundle, *names)])
    return parser


def saved_state(path: Path) -> dict:
    """CheckpointSaver stores a single object's state dict without its key."""
    state = torch.load(path, weights_only=True)
    return state.get("model", state)


def flags(settings: dict) -> list[str]:
    return [f"--{key}={value}" for key, value in settings.items()]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """Demo task sets of 32 px images and a tiny pretraining checkpoint with its tokenizer."""
    root = tmp_path_factory.mktemp("downstream")
    make_demo_tasks(root / "data", n_train=40, n_validation=24, n_test=40, image_size=32)
    tokenizer = load_or_train_tokenizer(root / "tokenizer", root / "data" / "retrieval" / "datalist.json", 200)
    torch.manual_seed(0)
    image = MSFMImageEncoder(img_size=32, decoder_hidden_size=16, decoder_mlp_dim=32, decoder_num_layers=1,
                             decoder_num_heads=2, **ENCODER)
    text = MSFMTextEncoder(vocab_size=len(tokenizer), max_length=32, max_sentences=4, mask_token_id=tokenizer.mask_token_id,
                           pad_token_id=tokenizer.pad_token_id, **TEXT)
    net = MSFMNet(image, text, embed_dim=16, itm_hidden_dim=16)
    torch.save({"model": net.state_dict()}, root / "pretrained.pt")
    return root


def downstream_settings(tiny: Path, out: Path, task: str, **extra) -> dict:
    """Tiny settings of a downstream bundle on the fixture's demo sets of ``task``."""
    return {
        "dataset_dir": tiny / "data",
        "datalist": tiny / "data" / task / "datalist_100.json",
        "pretrained_checkpoint": tiny / "pretrained.pt",
        "output_dir": out,
        "model_dir": out / "models",
        "image_size": 32,
        "batch_size": 8,
        "max_epochs": 2,
        "epoch_length": 3,
        "num_workers": 0,
        **{f"network_def#{k}": v for k, v in ENCODER.items()},
        **extra,
    }


def export_and_compare(bundle: str, config_files: str, out: Path, settings: dict) -> None:
    """ckpt_export of ``inference.json`` writes a TorchScript model with the metadata and config inside; it matches
    the checkpoint to 1e-4."""
    ts = out / "model.ts"
    command = [*bundle_command(config_files, "network_def")[:3], "ckpt_export", "network_def",
               "--filepath", str(ts), "--ckpt_file", str(out / "models" / "model.pt"), "--key_in_ckpt", "model",
               "--meta_file", str(REPO_ROOT / "bundles" / bundle / "configs" / "metadata.json"),
               "--config_file", config_files, *flags(settings)]
    run(command)
    extra = {"metadata.json": "", "inference.json": ""}
    scripted = torch.jit.load(str(ts), _extra_files=extra)
    metadata = json.loads((REPO_ROOT / "bundles" / bundle / "configs" / "metadata.json").read_text())
    assert json.loads(extra["metadata.json"])["version"] == metadata["version"]
    assert {"network_def", "postprocessing"} <= set(json.loads(extra["inference.json"]))
    from monai.bundle import ConfigParser

    parser = ConfigParser()
    parser.read_config([f.strip("'") for f in config_files.strip("[]").split(",")])
    parser.update({k: v if not isinstance(v, Path) else str(v) for k, v in settings.items()})
    network = parser.get_parsed_content("network_def")
    network.load_state_dict(saved_state(out / "models" / "model.pt"))
    images = torch.randn(3, 1, 32, 32)
    with torch.no_grad():
        assert torch.allclose(scripted(images), network.eval()(images), atol=1e-4)


def read_table(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def tracked_artifacts(out: Path) -> set[str]:
    """Names of the files that MLflow (SQLite backend, artifacts in ``mlruns/`` beside it) holds for the runs."""
    return {path.name for path in (out / "mlruns").rglob("artifacts/*") if path.is_file()}


@pytest.mark.slow
def test_classification_trains_tests_tracks_and_exports(tiny, tmp_path):
    out = tmp_path / "cls"
    settings = downstream_settings(tiny, out, "classification")
    files = configs("msfm_cls", "train.json")
    run([*bundle_command(files, bundle="msfm_cls"), "--tracking", "mlflow", *flags(settings)])
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["num_samples"] == 40 and metrics["split"] == "test"
    assert metrics["test_mean_auc"] == pytest.approx(metrics["mean_auc"], abs=1e-6)
    assert set(metrics["per_class_auc"]) == {"opacity", "nodule", "effusion", "pneumothorax", "cardiomegaly"}
    for name in ("roc_curves.png", "curves.png", "models/model.pt"):
        assert (out / name).is_file(), name
    assert sorted(json.loads((out / "curves.json").read_text())["train_loss"]) == ["1", "2"]
    with sqlite3.connect(out / "mlruns.db") as db:
        logged = {row[0] for row in db.execute("select distinct key from metrics")}
    assert {"train_loss", "val_mean_auc", "test_mean_auc"} <= logged
    rows = read_table(out / "per_image_predictions.csv")
    assert len(rows) == 40 and len({row["image"] for row in rows}) == 40
    assert all(Path(row["image"]).is_relative_to(tiny / "data") for row in rows)  # the dataset's files
    for name, auc in metrics["per_class_auc"].items():
        labels, scores = ([float(row[f"{name}_{kind}"]) for row in rows] for kind in ("label", "probability"))
        assert roc_auc_score(labels, scores) == pytest.approx(auc, abs=1e-6)
    assert {"metrics.json", "roc_curves.png", "per_image_predictions.csv"} <= tracked_artifacts(out)
    classes = "$msfm.data.datalist_classes('" + str(settings["datalist"]) + "')"
    settings = {**settings, "class_names": classes}
    export_and_compare("msfm_cls", configs("msfm_cls"), out, settings)
    run([*bundle_command(configs("msfm_cls"), "inferring", bundle="msfm_cls"), *flags(settings)])
    rows = (out / "predictions.csv").read_text().splitlines()
    assert rows[0] == "image,opacity,nodule,effusion,pneumothorax,cardiomegaly"
    assert len(rows) == 1 + 40 and all(len(row.split(",")) == 1 + 5 for row in rows)


@pytest.mark.slow
def test_linear_probe_keeps_the_pretrained_encoder(tiny, tmp_path):
    out = tmp_path / "probe"
    settings = downstream_settings(tiny, out, "classification", linear_probe=True)
    run([*bundle_command(configs("msfm_cls", "train.json"), bundle="msfm_cls"), *flags(settings)])
    pretrained = torch.load(tiny / "pretrained.pt", weights_only=True)["model"]
    trained = saved_state(out / "models" / "model.pt")
    key = "vit.blocks.0.attn.qkv.weight"
    assert torch.equal(trained[key], pretrained[f"image_encoder.{key}"])
    assert json.loads((out / "metrics.json").read_text())["linear_probe"] is True


@pytest.mark.slow
def test_frozen_feature_probe_scores_pretrained_and_random_encoders(tiny, tmp_path):
    """The probe scores the checkpoint's encoder: the fixture's untrained encoder equals the seeded random one,
    an encoder of other weights scores differently."""
    torch.manual_seed(1)
    other = MSFMImageEncoder(img_size=32, decoder_num_layers=0, **ENCODER)
    torch.save({"model": {f"image_encoder.{k}": v for k, v in other.state_dict().items()}}, tmp_path / "other.pt")
    files = configs("msfm_cls", "train.json", "probe.json")
    results = {}
    for name, checkpoint in (("fixture", tiny / "pretrained.pt"), ("random", "$None"), ("other", tmp_path / "other.pt")):
        out = tmp_path / name
        settings = downstream_settings(tiny, out, "classification", pretrained_checkpoint=checkpoint)
        run([*bundle_command(files, "probing", bundle="msfm_cls"), *flags(settings)])
        results[name] = json.loads((out / "probe_metrics.json").read_text())
        assert not (out / "models").exists()  # nothing is trained or saved
    for result in results.values():
        assert set(result["probe_per_class_auc"]) == {"opacity", "nodule", "effusion", "pneumothorax", "cardiomegaly"}
        assert result["num_train"] == 40 and result["num_test"] == 40 and 0 <= result["probe_mean_auc"] <= 1
    assert results["other"]["pretrained_checkpoint"].endswith("other.pt")
    assert results["fixture"]["probe_per_class_auc"] == results["random"]["probe_per_class_auc"]
    assert results["other"]["probe_per_class_auc"] != results["random"]["probe_per_class_auc"]


@pytest.mark.slow
def test_segmentation_trains_infers_masks_and_exports(tiny, tmp_path):
    out = tmp_path / "seg"
    settings = downstream_settings(tiny, out, "segmentation", **{"network_def#feature_size": 8})
    run([*bundle_command(configs("msfm_seg", "train.json"), bundle="msfm_seg"), *flags(settings)])
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["num_samples"] == 40 and 0.0 <= metrics["test_dice"] <= 1.0
    assert metrics["test_dice"] == pytest.approx(metrics["dice"], abs=1e-6)
    assert (out / "curves.png").is_file()
    rows = read_table(out / "per_image_dice.csv")
    assert len(rows) == 40 and np.mean([float(row["dice"]) for row in rows]) == pytest.approx(metrics["dice"], abs=1e-6)
    assert sum(row["with_finding"] == "True" for row in rows) == metrics["num_with_finding"]
    run([*bundle_command(configs("msfm_seg"), "inferring", bundle="msfm_seg"), *flags(settings)])
    masks = sorted((out / "masks").glob("*.png"))
    assert len(masks) == 40
    source = tiny / "data" / "images" / masks[0].name.replace("_mask", "")
    assert np.asarray(Image.open(masks[0])).shape == read_radiograph(source).shape
    assert set(np.unique(np.asarray(Image.open(masks[0])))) <= {0, 255}
    export_and_compare("msfm_seg", configs("msfm_seg"), out, settings)


@pytest.mark.parametrize("scale", [0.1, 1.0])
def test_segmentation_fine_tunes_the_vit_at_encoder_lr_scale(scale):
    parser = parsed("msfm_seg", "train.json")
    parser.update({"device": "cpu", "learning_rate": 1e-3, "encoder_lr_scale": scale, "image_size": 32})
    parser.update({"pretrained_checkpoint": None})
    parser.update({f"network_def#{k}": v for k, v in ENCODER.items()} | {"network_def#feature_size": 4})
    network, optimizer = parser.get_parsed_content("network"), parser.get_parsed_content("optimizer")
    vit_ids = {id(p) for p in network.vit.parameters()}
    encoder_group, decoder_group = optimizer.param_groups
    assert (encoder_group["lr"], decoder_group["lr"]) == pytest.approx((1e-3 * scale, 1e-3))
    assert {id(p) for p in encoder_group["params"]} == vit_ids
    # every parameter lands in exactly one group
    assert sorted(id(p) for g in optimizer.param_groups for p in g["params"]) == sorted(map(id, network.parameters()))
    scheduler = WarmupCosineSchedule(optimizer, warmup_steps=0, t_total=10)
    optimizer.step()
    scheduler.step()  # the schedule scales each group's own rate
    assert encoder_group["lr"] / decoder_group["lr"] == pytest.approx(scale)


@pytest.mark.parametrize("names", [("train.json",), ()], ids=["training", "inference"])
def test_segmentation_postprocessing_drops_specks_below_the_minimum_component(names):
    """Scored and written masks: sigmoid, threshold, then connected components under ``min_component_size``
    pixels removed (single false-positive pixels on an empty image would otherwise score Dice 0)."""
    parser = parsed("msfm_seg", *names)
    parser["min_component_size"] = 20
    steps = parser.get_parsed_content("postprocessing").transforms[:3]
    assert [type(step).__name__ for step in steps] == ["Activationsd", "AsDiscreted", "RemoveSmallObjectsd"]
    logits = torch.full((1, 32, 32), -6.0)
    logits[0, 4:14, 4:14] = 6.0  # a 100-pixel finding
    logits[0, 25:27, 25:27] = 6.0  # a 4-pixel speck
    mask = Compose(steps)({"pred": logits})["pred"]
    expected = torch.zeros(1, 32, 32)
    expected[0, 4:14, 4:14] = 1.0
    assert torch.equal(torch.as_tensor(mask).float(), expected)


def test_segmentation_training_flips_image_and_mask_left_right_together():
    """A pneumothorax may be on either side: the augmentation mirrors the columns of image and mask alike."""
    parser = parsed("msfm_seg", "train.json")
    flips = [i for i, step in enumerate(parser["augmentation"]) if isinstance(step, dict) and step["_target_"] == "RandFlipd"]
    assert len(flips) == 1
    parser[f"augmentation#{flips[0]}#prob"] = 1.0
    flip = parser.get_parsed_content(f"augmentation#{flips[0]}")
    image = torch.arange(4 * 6, dtype=torch.float32).reshape(1, 4, 6)  # rows x columns
    label = torch.zeros(1, 4, 6)
    label[0, :2, :2] = 1.0  # the image's upper left
    flipped = flip({"image": image, "label": label})
    assert torch.equal(torch.as_tensor(flipped["image"]), image.flip(-1))
    assert torch.equal(torch.as_tensor(flipped["label"]), label.flip(-1))


def zero_shot_configs() -> str:
    """The zero-shot bundle after the pretraining config that defines its network."""
    return "[" + ",".join(f"'{f}'" for f in zero_shot_files()) + "]"


def zero_shot_files() -> list[str]:
    bundles = REPO_ROOT / "bundles"
    return [str(WORKFLOW), str(bundles / "msfm" / "configs" / "train.json"), str(bundles / "msfm_zeroshot" / "configs" / "evaluate.json")]


def zero_shot_settings(tiny: Path, out: Path, **extra) -> dict:
    return {
        "dataset_dir": tiny / "data",
        "datalist": tiny / "data" / "pneumonia" / "datalist.json",
        "grounding_datalist": tiny / "data" / "grounding" / "datalist.json",
        "retrieval_datalist": tiny / "data" / "retrieval" / "datalist.json",
        "pretrained_checkpoint": tiny / "pretrained.pt",
        "tokenizer_dir": tiny / "tokenizer",
        "output_dir": out,
        "image_size": 32,
        "batch_size": 16,
        "num_workers": 0,
        "max_length": 32,
        "max_sentences": 4,
        "network_def#embed_dim": 16,
        **{f"image_encoder#{k}": v for k, v in ENCODER.items()},
        **{f"text_encoder#{k}": v for k, v in TEXT.items()},
        **extra,
    }


def test_zero_shot_scorer_is_the_two_prompt_softmax(tiny, tmp_path):
    """The score infer_dicom reports: p = exp(s+) / (exp(s+) + exp(s-)) with s± = image · mean prompt embedding."""
    from monai.bundle import ConfigParser

    from msfm.data import tokenize_sentences
    from msfm.deploy.pipeline import ZeroShotScorer

    settings = zero_shot_settings(tiny, tmp_path, amp=False)  # the formula in fp32, as computed here
    settings = {k: str(v) if isinstance(v, Path) else v for k, v in settings.items()}
    files = zero_shot_files()
    scorer = ZeroShotScorer(files, overrides=settings)
    image = sorted((tiny / "data" / "images").glob("*.png"))[0]
    parser = ConfigParser()
    parser.read_config(files)
    parser.update(settings)
    network, tokenizer = parser.get_parsed_content("network").eval(), parser.get_parsed_content("tokenizer")
    with torch.no_grad():
        pixels = parser.get_parsed_content("preprocessing")({"image": str(image)})["image"][None]
        image_embedding = network.encode_image(pixels)[0]
        scores = []
        for prompts in (parser["prompts"]["positive"], parser["prompts"]["negative"]):
            tokens = [tokenize_sentences([p], tokenizer, settings["max_length"], 1) for p in prompts]
            ids = torch.as_tensor(np.stack([t["input_ids"] for t in tokens]))
            mask = torch.as_tensor(np.stack([t["attention_mask"] for t in tokens]))
            scores.append(float(image_embedding @ network.encode_text(ids, mask).mean(dim=0)))
    expected = np.exp(scores[0]) / (np.exp(scores[0]) + np.exp(scores[1]))
    assert scorer(image) == pytest.approx(expected, abs=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("checkpoint", ["pretrained", "random"])
def test_zero_shot_suite(tiny, tmp_path, checkpoint):
    out = tmp_path / "zs"
    extra = {"pretrained_checkpoint": "$None"} if checkpoint == "random" else {}
    files = zero_shot_configs()
    settings = zero_shot_settings(tiny, out, **extra)
    run([*bundle_command(files, "evaluating", bundle="msfm_zeroshot"), "--tracking", "mlflow", *flags(settings)])
    metrics = json.loads((out / "metrics.json").read_text())
    every_split = len(load_split(settings["datalist"], "all"))  # zero-shot scores all splits; retrieval the test
    assert every_split > 40 and 0 <= metrics["zero_shot_auc"] <= 1 and metrics["zero_shot_samples"] == every_split
    assert 0 <= metrics["grounding_mIoU"] <= 1 and metrics["grounding_CNR"] >= 0
    assert -1 <= metrics["grounding_phrase_sensitivity"] <= 1 and metrics["grounding_sensitivity_images"] > 0
    assert metrics["retrieval_samples"] == 40 and 0 <= metrics["retrieval_i2t_R10"] <= 1
    assert 0 <= metrics["retrieval_mean_P5"] <= 1  # the demo's retrieval entries carry their findings
    for name in ("zero_shot_roc.png", "grounding_overlays.png"):
        assert (out / name).is_file()
    with sqlite3.connect(out / "mlruns.db") as db:
        logged = {row[0] for row in db.execute("select distinct key from metrics")}
    assert {"zero_shot_auc", "grounding_mIoU", "retrieval_t2i_R1"} <= logged
    rows = read_table(out / "zero_shot_predictions.csv")
    assert len(rows) == metrics["zero_shot_samples"]
    labels, scores = [float(r["label"]) for r in rows], [float(r["probability"]) for r in rows]
    assert roc_auc_score(labels, scores) == pytest.approx(metrics["zero_shot_auc"], abs=1e-6)
    phrases = read_table(out / "grounding_per_phrase.csv")
    assert len(phrases) == metrics["grounding_samples"] and all(row["phrase"] for row in phrases)
    iou = [np.nanmean([float(row[f"IoU_t{t:g}"]) for row in phrases]) for t in (0.1, 0.2, 0.3, 0.4, 0.5)]
    assert np.nanmean(iou) == pytest.approx(metrics["grounding_mIoU"], abs=1e-5)
    cnr = np.array([float(row["CNR"]) for row in phrases])  # NaN where a map is flat inside and out: skipped
    assert np.isfinite(cnr).mean() > 0.9 and np.nanmean(cnr) == pytest.approx(metrics["grounding_CNR"], abs=1e-5)
    signed = np.array([float(row["signed_CNR"]) for row in phrases])
    assert np.allclose(np.abs(signed), cnr, equal_nan=True)
    assert np.nanmean(signed) == pytest.approx(metrics["grounding_signed_CNR"], abs=1e-5)
    categories = read_table(out / "grounding_per_category.csv")  # the demo's finding types, as in MS-CXR
    names = {r["category"] for r in categories}
    assert names == {r["category"] for r in phrases} and "" not in names
    assert sum(int(r["phrases"]) for r in categories) == len(phrases)
    first = categories[0]
    in_first = [row for row in phrases if row["category"] == first["category"]]
    iou = [np.nanmean([float(row[f"IoU_t{t:g}"]) for row in in_first]) for t in (0.1, 0.2, 0.3, 0.4, 0.5)]
    assert float(first["mIoU"]) == pytest.approx(np.mean(iou), abs=1e-5, nan_ok=True)
    expected = {"metrics.json", "zero_shot_predictions.csv", "grounding_per_phrase.csv", "grounding_per_category.csv"}
    assert expected | {"grounding_overlays.png"} <= tracked_artifacts(out)


@pytest.mark.slow
@pytest.mark.parametrize("scoring", ["global", "local"])
def test_zero_shot_classifier_is_saved_and_infers_alone(tiny, tmp_path, scoring):
    """``saving`` writes the zero-shot classifier; ``inference.json`` (no tokenizer, no report encoder) reads it
    back and writes per-image probabilities equal to the suite's scorer."""
    from msfm.deploy.pipeline import ZeroShotScorer

    out = tmp_path / "zs"
    settings = zero_shot_settings(tiny, out, model_dir=out / "models", zero_shot_scoring=scoring)
    run([*bundle_command(zero_shot_configs(), "saving", bundle="msfm_zeroshot"), *flags(settings)])
    assert (out / "models" / "model.pt").is_file()
    bundles = REPO_ROOT / "bundles"
    files = [WORKFLOW, bundles / "msfm" / "configs" / "train.json", bundles / "msfm_zeroshot" / "configs" / "inference.json"]
    sizes = {k: v for k, v in settings.items()
             if k.startswith(("image_encoder#", "network_def#", "image_size", "zero_shot_scoring"))}
    inference = {**sizes, "network_def#image_encoder": "@image_encoder", "dataset_dir": tiny / "data",
                 "datalist": settings["datalist"], "model_dir": out / "models", "output_dir": out, "num_workers": 0}
    run([*bundle_command("[" + ",".join(f"'{f}'" for f in files) + "]", "inferring", bundle="msfm_zeroshot"),
         *flags(inference)])
    rows = (out / "predictions.csv").read_text().splitlines()
    assert rows[0] == "image,pneumonia" and len(rows) == 1 + 40
    image, probability = rows[1].split(",")
    scorer = ZeroShotScorer(zero_shot_files(), overrides={k: str(v) if isinstance(v, Path) else v for k, v in settings.items()})
    assert float(probability) == pytest.approx(scorer(image), abs=1e-4)


@pytest.mark.slow
def test_same_commands_on_prepared_official_layouts(tiny, tmp_path):
    """SIIM (non-square JPEG DICOMs) through the segmentation bundle, MS-CXR and MIMIC-CXR through grounding
    and retrieval: only dataset_dir and datalist change."""
    siim, mscxr = tmp_path / "siim", tmp_path / "mimic"
    image_ids = sorted(fixtures.make_siim(siim))
    split_files = {}
    for split, image_id in zip(("training", "validation", "test"), image_ids):
        split_files[split] = siim / f"{split}.txt"
        split_files[split].write_text(image_id + "\n")
    prepare_dataset("siim", siim, siim / "prepared", split_files=split_files, validation_size=1, test_size=1)
    fixtures.make_mscxr(mscxr)
    prepare_dataset("mscxr", mscxr, mscxr / "prepared_mscxr")
    out = tmp_path / "seg"
    settings = downstream_settings(tiny, out, "segmentation", dataset_dir=siim, datalist=siim / "prepared" / "datalist_100.json",
                                   **{"network_def#feature_size": 8, "epoch_length": 1})
    run([*bundle_command(configs("msfm_seg", "train.json"), bundle="msfm_seg"), *flags(settings)])
    assert json.loads((out / "metrics.json").read_text())["num_samples"] == 1
    run([*bundle_command(configs("msfm_seg"), "inferring", bundle="msfm_seg"), *flags(settings)])
    (mask,) = (out / "masks").glob("*.png")
    assert np.asarray(Image.open(mask)).shape == (48, 64)
    zs = tmp_path / "zs"
    grounding = {"grounding_dataset_dir": mscxr, "grounding_datalist": mscxr / "prepared_mscxr" / "datalist.json"}
    run([*bundle_command(zero_shot_configs(), "evaluating", bundle="msfm_zeroshot"),
         *flags(zero_shot_settings(tiny, zs, **grounding))])
    phrases = load_split(grounding["grounding_datalist"], "all")  # every split of MS-CXR, as published grounding
    assert len(phrases) == 3 and json.loads((zs / "metrics.json").read_text())["grounding_samples"] == 3


def test_zero_shot_networks_under_bf16_autocast_match_fp32(tiny, tmp_path):
    """The zero-shot bundle's classifier (probabilities) and grounding network (phrase-patch similarity maps),
    through its inferer under CPU bf16 autocast, stay within 0.02 of fp32."""
    from msfm.data import tokenize_sentences

    generator = torch.Generator().manual_seed(0)
    images = torch.randn(4, 1, 32, 32, generator=generator)
    outputs = {}
    for amp in (False, True):
        settings = zero_shot_settings(tiny, tmp_path, amp=amp)
        parser = ConfigParser()
        parser.read_config(zero_shot_files())
        parser.update({k: str(v) if isinstance(v, Path) else v for k, v in settings.items()})
        inferer, tokenizer = parser.get_parsed_content("inferer"), parser.get_parsed_content("tokenizer")
        tokens = tokenize_sentences(["Patchy opacity at the right base."], tokenizer, settings["max_length"], 4)
        text = {key: torch.as_tensor(tokens[key])[None].repeat(4, 1) for key in ("input_ids", "attention_mask", "sentence_index")}
        with torch.no_grad():
            probabilities = inferer(images, parser.get_parsed_content("classifier").eval())
            maps = inferer(images, parser.get_parsed_content("grounding#network").eval(), **text)
        outputs[amp] = (probabilities, maps)
    for fp32, bf16 in zip(outputs[False], outputs[True]):
        assert bf16.dtype == torch.float32 and not torch.equal(fp32, bf16)  # bf16 did run, float32 came out
        assert torch.allclose(fp32, bf16, atol=0.02)
