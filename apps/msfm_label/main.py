"""MONAI Label app serving the msfm downstream bundles from local folders (no model-zoo lookup).

Start (from the repository root, with the MONAI Label environment active)::

    monailabel start_server --app apps/msfm_label --studies DATASTORE --host 127.0.0.1 --port 8000 \\
        --conf models msfm_seg,msfm_cls --conf configs downstream_demo.json,demo.json

Options (``--conf NAME VALUE``):
    bundles: folder holding the bundle folders (default: this repository's ``bundles/``).
    models: bundles to serve, comma-separated (default ``msfm_seg,msfm_cls``); each needs ``models/model.pt``
        or ``models/model.ts``.
    configs: configs merged after each bundle's workflow (the common ``workflow.json``, the bundle's
        ``inference.json``, and for training its ``train.json``), comma-separated, each from the bundle's
        ``configs`` or else ``<bundles>/common/configs`` (``downstream_demo.json,demo.json`` for the demo-sized
        networks).
    pretrained_checkpoint: msfm pretraining checkpoint for training from the pretrained encoder; by default a
        training run fine-tunes the bundle's own ``models/model.pt``.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import monai.bundle
from monai.bundle import ConfigParser
from monai.transforms import SqueezeDimd, Transposed
from monailabel.interfaces.app import MONAILabelApp
from monailabel.interfaces.tasks.infer_v2 import InferType
from monailabel.tasks.infer.bundle import BundleInferTask
from monailabel.tasks.train.bundle import BundleTrainTask

logger = logging.getLogger(__name__)

REPO_BUNDLES = Path(__file__).resolve().parents[2] / "bundles"
TASK_TYPES = {"msfm_seg": InferType.SEGMENTATION, "msfm_cls": InferType.CLASSIFICATION}


def _layers(path: str, config: str, extra: list[str]) -> list[str]:
    """The config files of a bundle workflow: the common workflow (``<bundles>/common/configs``), the bundle's
    ``inference.json`` (its network), ``config`` when that is another file, then the extra configs, each from the
    bundle's ``configs`` or else the common ones (``downstream_demo.json``)."""
    configs, common = os.path.join(path, "configs"), os.path.join(os.path.dirname(path), "common", "configs")
    inference = os.path.join(configs, "inference.json")
    main = [] if os.path.samefile(config, inference) else [config]
    extras = [os.path.join(common if not os.path.isfile(os.path.join(configs, n)) else configs, n) for n in extra]
    return [os.path.join(common, "workflow.json"), inference, *main, *extras]


def _merged(path: str, config: str, extra: list[str]) -> ConfigParser:
    """The bundle workflow's merged configs, rooted at the bundle."""
    parser = ConfigParser()
    parser.read_config(_layers(path, config, extra))
    parser.config.update({"bundle_root": path})
    return parser


class MSFMInferTask(BundleInferTask):
    """``BundleInferTask`` reading ``inference.json`` plus the app's extra configs. Masks come back as 8-bit PNG
    in the source image's pixel grid (whatever the input format, DICOM included); classification returns the
    probabilities as JSON."""

    def __init__(self, path: str, conf: dict, extra_configs: list[str], type: InferType):
        self.extra_configs = extra_configs
        # the bundle's own Invertd already restores the source grid; Restored has no meaning for class scores
        super().__init__(path, conf, type=type, add_post_restore=type == InferType.SEGMENTATION)

    def _load_bundle_config(self, path, config):
        return _merged(path, config, self.extra_configs)

    def post_transforms(self, data=None):
        transforms = super().post_transforms(data)
        if self.type == InferType.SEGMENTATION:
            # MONAI Label writes a 2D mask without channel, in MONAI's (x, y) axis order; msfm's reader gives
            # (rows, columns)
            transforms += [SqueezeDimd(keys="pred", dim=0), Transposed(keys="pred", indices=(1, 0))]
        return transforms

    def writer(self, data, extension=None, dtype=None):
        if self.type == InferType.SEGMENTATION:
            extension, dtype = extension or data.get("result_extension") or ".png", dtype or "uint8"
        return super().writer(data, extension=extension, dtype=dtype)


class MSFMTrainTask(BundleTrainTask):
    """``BundleTrainTask`` running the bundle's ``fitting`` (training without the test-split evaluation) with the
    app's extra configs, on the datastore's labelled images."""

    def __init__(self, path: str, conf: dict, extra_configs: list[str], pretrained_checkpoint: str | None):
        self.extra_configs, self.pretrained_checkpoint = extra_configs, pretrained_checkpoint
        super().__init__(path, conf)

    def _load_bundle_config(self, path, config):
        return _merged(path, config, self.extra_configs)

    def _update_overrides(self, overrides):
        # a MONAI Label run starts afresh (no resume from an older run's checkpoints) from models/model.pt
        # ("$None": monai.bundle.run drops overrides whose value is None)
        checkpoint = self.pretrained_checkpoint or "$None"
        overrides.update({"resume": False, "pretrained_checkpoint": checkpoint})
        return overrides

    def run_single_gpu(self, request, overrides):
        configs = _layers(self.bundle_path, self.bundle_config_path, self.extra_configs)
        monai.bundle.run(
            run_id=request.get("run_id", "fitting"),
            meta_file=self.bundle_metadata_path,
            config_file=configs,
            logging_file=os.path.join(self.bundle_path, "configs", "logging.conf"),
            **overrides,
        )


class MSFMApp(MONAILabelApp):
    """Serves ``msfm_seg`` (pneumothorax masks) and ``msfm_cls`` (finding probabilities) on 2D radiographs; trains
    ``msfm_seg`` on the datastore's labels."""

    def __init__(self, app_dir: str, studies: str, conf: dict):
        self.bundles = Path(conf.get("bundles", REPO_BUNDLES)).resolve()
        self.models = [m for m in conf.get("models", "msfm_seg,msfm_cls").split(",") if m]
        self.extra_configs = [c for c in conf.get("configs", "").split(",") if c]
        for model in self.models:
            if not (self.bundles / model / "configs" / "inference.json").is_file():
                raise FileNotFoundError(f"no bundle {model} with configs/inference.json under {self.bundles}")
        super().__init__(app_dir, studies, conf, name="msfm", description="msfm chest radiograph models")

    def init_infers(self):
        infers = {}
        for model in self.models:
            task_type = TASK_TYPES.get(model, InferType.SEGMENTATION)
            task = MSFMInferTask(str(self.bundles / model), self.conf, self.extra_configs, task_type)
            if task.is_valid():
                infers[model] = task
            else:
                logger.warning(f"{model}: no models/model.pt or models/model.ts under {self.bundles / model}")
        return infers

    def init_trainers(self):
        if "msfm_seg" not in self.models:
            return {}
        checkpoint = self.conf.get("pretrained_checkpoint")
        return {"msfm_seg": MSFMTrainTask(str(self.bundles / "msfm_seg"), self.conf, self.extra_configs, checkpoint)}
