"""One-image inference with a bundle's own ``inference.json``, from its checkpoint or from the TorchScript alone."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
from monai.bundle import ConfigParser
from monai.data import load_net_with_metadata
from monai.inferers import SimpleInferer
from monai.transforms import Compose, SaveImaged

from msfm.networks.checkpoints import load_network_weights

__all__ = ["BundlePredictor"]


def _transforms(parser: ConfigParser, key: str) -> list:
    """The bundle's transforms under ``key`` without file writers (the caller decides what to write)."""
    compose = parser.get_parsed_content(key, instantiate=True)
    transforms = list(compose.transforms) if isinstance(compose, Compose) else list(compose)
    return [t for t in transforms if not isinstance(t, SaveImaged)]


class BundlePredictor:
    """Runs a bundle's ``preprocessing``, network and ``postprocessing`` (the keys MONAI Label also reads) on one
    image at a time, returning the prediction in the image's original pixel grid.

    Build it from a bundle's configs and checkpoint (:meth:`from_checkpoint`) or from a ``ckpt_export`` TorchScript
    file alone (:meth:`from_torchscript`), whose ``extra/`` configs carry the transforms. File writers
    (``SaveImaged``) in ``postprocessing`` are left out.

    Args:
        network: the network, in eval mode on ``device``.
        parser: the parsed inference config.
        device: where the network runs.
        metadata: the bundle's ``metadata.json`` content.
    """

    def __init__(self, network: torch.nn.Module, parser: ConfigParser, device: torch.device, metadata: Mapping):
        self.network = network.eval()
        self.parser = parser
        self.device = device
        self.metadata = dict(metadata)
        self.preprocessing = Compose(_transforms(parser, "preprocessing"))
        self.postprocessing = Compose(_transforms(parser, "postprocessing"))
        # the workflow's inferer autocasts where the device has fast bf16 (models exported before it had none)
        self.inferer = parser.get_parsed_content("inferer") if "inferer" in parser else SimpleInferer()

    @staticmethod
    def _parser(configs: Sequence[dict], overrides: Mapping | None, device: torch.device) -> ConfigParser:
        parser = ConfigParser()
        for config in configs:
            for key, value in config.items():
                parser[key] = value
        for key, value in {**(overrides or {}), "device": device}.items():
            parser[key] = value
        return parser

    @classmethod
    def from_checkpoint(
        cls,
        config_files: Sequence[str | os.PathLike],
        checkpoint: str | os.PathLike,
        metadata_file: str | os.PathLike | None = None,
        overrides: Mapping | None = None,
        device: str | torch.device = "cpu",
    ) -> BundlePredictor:
        """A predictor from a bundle's configs (the common ``workflow.json``, the bundle's ``inference.json``, then
        overrides such as ``demo.json``) and a
        trained checkpoint (``model_dir/model.pt``: a bare state dict or ``{"model": state}``), read with
        ``weights_only=True``.

        Raises:
            FileNotFoundError: naming the checkpoint when it does not exist.
            ValueError: naming the checkpoint when its weights do not fit the configured network.
        """
        if not os.path.isfile(checkpoint):
            raise FileNotFoundError(f"checkpoint not found: {checkpoint}")
        device = torch.device(device)
        parser = cls._parser([ConfigParser.load_config_file(f) for f in config_files], overrides, device)
        network = parser.get_parsed_content("network_def")
        load_network_weights(network, checkpoint)
        metadata = json.loads(Path(metadata_file).read_text()) if metadata_file else {}
        return cls(network.to(device), parser, device, metadata)

    @classmethod
    def from_torchscript(
        cls,
        path: str | os.PathLike,
        config_names: Sequence[str] = ("workflow.json", "inference.json"),
        overrides: Mapping | None = None,
        device: str | torch.device = "cpu",
    ) -> BundlePredictor:
        """A predictor from a TorchScript file written by ``python -m monai.bundle ckpt_export``: the network and,
        from its ``extra/`` files, ``metadata.json`` and the configs in ``config_names`` (merged in that order).

        Raises:
            FileNotFoundError: naming the file when it does not exist.
            ValueError: naming the file when a config in ``config_names`` is not inside it.
        """
        if not os.path.isfile(path):
            raise FileNotFoundError(f"TorchScript model not found: {path}")
        device = torch.device(device)
        network, metadata, extra = load_net_with_metadata(str(path), map_location=device, more_extra_files=config_names)
        missing = [name for name in config_names if not extra.get(name)]
        if missing:
            raise ValueError(
                f"{path}: no {missing} inside; export with --config_file listing them "
                "(python -m monai.bundle ckpt_export ... --config_file \"['.../workflow.json', '.../inference.json', ...]\")."
            )
        parser = cls._parser([json.loads(extra[name]) for name in config_names], overrides, device)
        return cls(network, parser, device, metadata)

    @torch.no_grad()
    def __call__(self, image: str | os.PathLike) -> dict:
        """Predict for one image file (DICOM, PNG or JPG).

        Returns:
            the transformed data dictionary: ``"image"`` (the network input) and ``"pred"`` (after
            ``postprocessing``; for segmentation bundles a mask in the original pixel grid).
        """
        data = self.preprocessing({"image": str(image)})
        data["pred"] = self.inferer(data["image"][None].to(self.device), self.network)[0]
        return self.postprocessing(data)
