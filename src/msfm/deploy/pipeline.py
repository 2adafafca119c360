"""DICOM in → DICOM SEG and SR out, for a file or a folder of radiographs."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import torch
from monai.bundle import ConfigParser
from monai.transforms import Compose
from tqdm import tqdm

from msfm import __version__ as msfm_version
from msfm.data import is_dicom
from msfm.deploy.dicom import output_stem, read_source, write_findings_report, write_segmentation
from msfm.deploy.predictor import BundlePredictor

__all__ = ["DicomInference", "ZeroShotScorer", "dicom_files"]

logger = logging.getLogger(__name__)


def dicom_files(path: str | os.PathLike) -> list[Path]:
    """``path`` itself, or every DICOM file (detected by content) under the folder ``path``, sorted.

    Raises:
        FileNotFoundError: when ``path`` does not exist or the folder holds no DICOM file.
    """
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise FileNotFoundError(f"input not found: {path}")
    files = sorted(p for p in path.rglob("*") if p.is_file() and is_dicom(p))
    if not files:
        raise FileNotFoundError(f"no DICOM file under {path}")
    return files


class ZeroShotScorer:
    """Zero-shot probability of one finding for single images, with the ``msfm_zeroshot`` bundle's network, prompts
    and preprocessing (its ``classifier``, a :class:`msfm.networks.ZeroShotClassifier`).

    Args:
        config_files: the common ``workflow.json``, the pretraining ``train.json`` (the network), then
            ``msfm_zeroshot``'s ``evaluate.json``, then overrides such as the two ``demo.json``.
        overrides: config values to set (``pretrained_checkpoint``, ``tokenizer_dir``, ...).
        finding: the name the probability is reported under.
        device: where the network runs.
    """

    def __init__(
        self,
        config_files: Sequence[str | os.PathLike],
        overrides: dict | None = None,
        finding: str = "pneumonia",
        device: str | torch.device = "cpu",
    ) -> None:
        parser = ConfigParser()
        parser.read_config([str(f) for f in config_files])
        for key, value in {**(overrides or {}), "device": torch.device(device)}.items():
            parser[key] = value
        self.device, self.finding = torch.device(device), finding
        self.classifier = parser.get_parsed_content("classifier").eval()
        self.inferer = parser.get_parsed_content("inferer")
        self.preprocessing = Compose(parser.get_parsed_content("preprocessing").transforms)

    @torch.no_grad()
    def __call__(self, image: str | os.PathLike) -> float:
        pixels = self.preprocessing({"image": str(image)})["image"][None].to(self.device)
        return float(self.inferer(pixels, self.classifier)[0, 0])


class DicomInference:
    """Writes, for each source radiograph, a DICOM SEG of the segmentation bundle's mask and a DICOM SR of the
    classification probabilities and zero-shot score, as ``<hash>_seg.dcm`` and ``<hash>_sr.dcm``.

    Logs carry counts and output names only: no header value is logged or used in a name.

    Args:
        segmentation: the ``msfm_seg`` predictor (its ``pred`` is the mask in the source grid), or None.
        classification: the ``msfm_cls`` predictor (its ``pred`` is per-class probabilities), or None.
        class_names: names of the classification outputs, in order.
        zero_shot: a zero-shot scorer, or None.
    """

    def __init__(
        self,
        segmentation: BundlePredictor | None = None,
        classification: BundlePredictor | None = None,
        class_names: Sequence[str] = (),
        zero_shot: ZeroShotScorer | None = None,
    ) -> None:
        if segmentation is None and classification is None and zero_shot is None:
            raise ValueError("nothing to run: give a segmentation, classification or zero-shot model")
        if classification is not None and not class_names:
            raise ValueError("classification needs its class names")
        self.segmentation, self.classification, self.zero_shot = segmentation, classification, zero_shot
        self.class_names = list(class_names)

    @staticmethod
    def _version(predictor: BundlePredictor | None) -> str:
        """The bundle version from the model's metadata (the algorithm version in SEG and SR)."""
        return str(predictor.metadata.get("version", msfm_version)) if predictor is not None else msfm_version

    def _probabilities(self, path: Path) -> dict[str, float]:
        probabilities: dict[str, float] = {}
        if self.classification is not None:
            scores = self.classification(path)["pred"].float().reshape(-1).cpu().tolist()
            if len(scores) != len(self.class_names):
                raise ValueError(f"{len(scores)} classification outputs for {len(self.class_names)} class names")
            probabilities.update(zip(self.class_names, scores))
        if self.zero_shot is not None:
            probabilities[self.zero_shot.finding] = self.zero_shot(path)
        return probabilities

    def __call__(self, inputs: str | os.PathLike, output_dir: str | os.PathLike, skip_invalid: bool = False) -> dict:
        """Process a file or folder.

        Args:
            inputs: a DICOM file or a folder searched recursively.
            output_dir: where the SEG and SR files and ``manifest.json`` go.
            skip_invalid: count and log (by position, not name) files that cannot be processed instead of stopping.

        Returns:
            the manifest: ``{"written": [{"seg": ..., "sr": ...}], "skipped": n}``.

        Raises:
            ValueError: naming the file, when one cannot be processed and ``skip_invalid`` is off.
        """
        output_dir = Path(output_dir)
        output_dir.mkdir(parents=True, exist_ok=True)
        files = dicom_files(inputs)
        written, skipped = [], 0
        for index, path in enumerate(tqdm(files, desc="infer_dicom", unit="image")):
            try:
                source = read_source(path)
                stem, outputs = output_stem(source), {}
                if self.segmentation is not None:
                    mask = self.segmentation(path)["pred"][0].cpu().numpy()
                    outputs["seg"] = f"{stem}_seg.dcm"
                    write_segmentation(
                        source, mask, output_dir / outputs["seg"], "msfm_seg", self._version(self.segmentation)
                    )
                probabilities = self._probabilities(path)
                if probabilities:
                    outputs["sr"] = f"{stem}_sr.dcm"
                    algorithm = "msfm_cls" if self.classification is not None else "msfm_zeroshot"
                    version = self._version(self.classification)
                    write_findings_report(source, probabilities, output_dir / outputs["sr"], algorithm, version)
            except Exception as error:
                if not skip_invalid:
                    # ValueErrors here describe the file's structure (read_source, the writers), not header values;
                    # for anything else only the type is shown, as its message could quote the header
                    reason = str(error) if isinstance(error, ValueError) else type(error).__name__
                    raise ValueError(f"{path}: {reason}") from error
                skipped += 1
                logger.warning("skipped input %d of %d (%s)", index + 1, len(files), type(error).__name__)
                continue
            written.append(outputs)
        manifest = {"written": written, "skipped": skipped}
        (output_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        segs, reports = sum("seg" in w for w in written), sum("sr" in w for w in written)
        logger.info("wrote %d SEG, %d SR to %s; skipped %d", segs, reports, output_dir, skipped)
        return manifest
