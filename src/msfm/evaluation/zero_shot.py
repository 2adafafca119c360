"""Zero-shot tasks of the pretrained image-report model: classification from prompts, phrase grounding and
image-report retrieval (run one after another by :class:`msfm.engines.TaskSuite`)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from msfm.data.letterbox import Letterbox
from msfm.metrics import (
    GROUNDING_THRESHOLDS,
    boxes_to_mask,
    contrast_to_noise,
    grounding_heatmap,
    grounding_iou,
    per_class_auc,
    retrieval_recall,
)
from msfm.networks import MSFMNet, prompt_prototypes, zero_shot_probability
from msfm.visualize.plots import plot_overlays, plot_roc_curves

__all__ = ["ZeroShotClassification", "PhraseGrounding", "ImageTextRetrieval"]


def _as_list(items: list) -> list:
    return items


def _batches(dataset: Dataset, batch_size: int, num_workers: int, desc: str):
    """Batches as lists of samples (entries carry ragged fields such as box lists)."""
    loader = DataLoader(dataset, batch_size=batch_size, num_workers=num_workers, collate_fn=_as_list)
    return tqdm(loader, desc=desc, leave=False)


def _stack(samples: Sequence[Mapping], key: str, device: torch.device) -> torch.Tensor:
    return torch.stack([torch.as_tensor(s[key]) for s in samples]).to(device)


class ZeroShotClassification:
    """Binary zero-shot classification from two prompt sets (REFERENCE §2).

    Image and prompt embeddings are the model's L2-normalised global embeddings; each set's prototype is the
    mean of its prompt embeddings (not re-normalised); ``s± = image · prototype±`` and
    ``p = exp(s+) / (exp(s+) + exp(s−))``; the score is ``roc_auc_score`` of ``p``.

    Args:
        dataset: samples with a preprocessed ``image`` and a ``label`` (a list, ``label[class_index]`` is used).
        tokenizer: the pretraining tokenizer.
        prompts: ``{"positive": [...], "negative": [...]}``.
        output_dir: where ``zero_shot_roc.png`` goes.
        class_index: label column.
        max_length: tokens per prompt.
        batch_size: images per forward pass.
        num_workers: data-loading workers.
    """

    def __init__(
        self,
        dataset: Dataset,
        tokenizer,
        prompts: Mapping[str, Sequence[str]],
        output_dir: str | os.PathLike,
        class_index: int = 0,
        max_length: int = 64,
        batch_size: int = 64,
        num_workers: int = 0,
    ) -> None:
        self.dataset, self.tokenizer, self.prompts = dataset, tokenizer, prompts
        self.output_dir, self.class_index, self.max_length = Path(output_dir), class_index, max_length
        self.batch_size, self.num_workers = batch_size, num_workers

    def __call__(self, network: MSFMNet, device: torch.device) -> dict[str, float]:
        prototypes = prompt_prototypes(network, self.tokenizer, self.prompts, self.max_length)
        probabilities, labels = [], []
        for samples in _batches(self.dataset, self.batch_size, self.num_workers, "zero-shot"):
            image_emb = network.encode_image(_stack(samples, "image", device))
            probabilities.append(zero_shot_probability(image_emb, prototypes).cpu())
            labels += [float(s["label"][self.class_index]) for s in samples]
        scores, truth = torch.cat(probabilities).numpy()[:, None], np.asarray(labels)[:, None]
        auc = per_class_auc(scores, truth)
        self.output_dir.mkdir(parents=True, exist_ok=True)
        plot_roc_curves(scores, truth, ["zero-shot"], auc, self.output_dir / "zero_shot_roc.png")
        return {"zero_shot_auc": float(auc[0]), "zero_shot_samples": len(labels)}


class PhraseGrounding:
    """Phrase grounding scored as mIoU over thresholds and CNR (REFERENCE §2), with heatmap overlays.

    The phrase-patch similarity map on the letterboxed image is smoothed, mapped back to the original image
    (undoing the letterbox), min-max normalised to ``[-1, 1]`` and compared with the union of the phrase's boxes
    (original pixels). IoU is NaN and skipped where the prediction or the box mask is empty; mIoU is the mean
    over thresholds of the per-threshold means over samples.

    Args:
        dataset: samples with a preprocessed ``image`` (a MetaTensor whose ``spatial_shape`` is the original
            size), the tokenised phrase (``input_ids``, ``attention_mask``, ``sentence_index``), ``boxes`` and
            ``phrase``.
        output_dir: where ``grounding_overlays.png`` goes.
        sigma: smoothing in patches.
        thresholds: IoU thresholds.
        num_overlays: samples drawn.
        batch_size: samples per forward pass.
        num_workers: data-loading workers.
    """

    def __init__(
        self,
        dataset: Dataset,
        output_dir: str | os.PathLike,
        sigma: float = 1.5,
        thresholds: Sequence[float] = GROUNDING_THRESHOLDS,
        num_overlays: int = 8,
        batch_size: int = 64,
        num_workers: int = 0,
    ) -> None:
        self.dataset, self.output_dir, self.sigma = dataset, Path(output_dir), sigma
        self.thresholds, self.num_overlays = tuple(thresholds), num_overlays
        self.batch_size, self.num_workers = batch_size, num_workers

    def __call__(self, network: MSFMNet, device: torch.device) -> dict[str, float]:
        ious, cnrs, overlays = [], [], []
        for samples in _batches(self.dataset, self.batch_size, self.num_workers, "grounding"):
            images = _stack(samples, "image", device)
            # the whole phrase is one text unit, even when it reads as several sentences
            sentence_index = _stack(samples, "sentence_index", device).clamp(max=0)
            maps = network.similarity_map(
                images, _stack(samples, "input_ids", device), _stack(samples, "attention_mask", device), sentence_index
            ).float().cpu()
            for sample, image, similarity in zip(samples, images.cpu(), maps):
                letterbox = Letterbox(tuple(int(s) for s in sample["image"].meta["spatial_shape"]), image.shape[-1])
                heatmap = grounding_heatmap(similarity, sigma=self.sigma, letterbox=letterbox)
                truth = boxes_to_mask(sample["boxes"], letterbox.original)
                ious.append(grounding_iou(heatmap, truth, self.thresholds))
                cnrs.append(contrast_to_noise(heatmap, truth))
                if len(overlays) < self.num_overlays:
                    overlays.append(
                        {
                            "image": letterbox.canvas_to_original(image[0]).numpy(),
                            "heatmap": heatmap.numpy(),
                            "boxes": sample["boxes"],
                            "title": f"{sample['phrase'][:40]}\nIoU@0.3 {float(ious[-1][2]):.2f} CNR {cnrs[-1]:.2f}",
                        }
                    )
        per_threshold = torch.nanmean(torch.stack(ious), dim=0)
        self.output_dir.mkdir(parents=True, exist_ok=True)
        plot_overlays(overlays, self.output_dir / "grounding_overlays.png", heatmap_label="normalised similarity")
        results = {"grounding_mIoU": float(per_threshold.mean()), "grounding_CNR": float(np.nanmean(cnrs))}
        results.update({f"grounding_IoU_t{t:g}": float(v) for t, v in zip(self.thresholds, per_threshold)})
        results["grounding_samples"] = len(cnrs)
        return results


class ImageTextRetrieval:
    """Image→report and report→image Recall@K on paired samples (cosine of the global embeddings).

    Args:
        dataset: samples with a preprocessed ``image`` and a tokenised report (``input_ids``, ``attention_mask``).
        ks: the K of Recall@K.
        batch_size: samples per forward pass.
        num_workers: data-loading workers.
    """

    def __init__(self, dataset: Dataset, ks: Sequence[int] = (1, 5, 10), batch_size: int = 64, num_workers: int = 0):
        self.dataset, self.ks, self.batch_size, self.num_workers = dataset, tuple(ks), batch_size, num_workers

    def __call__(self, network: MSFMNet, device: torch.device) -> dict[str, float]:
        image_emb, text_emb = [], []
        for samples in _batches(self.dataset, self.batch_size, self.num_workers, "retrieval"):
            image_emb.append(network.encode_image(_stack(samples, "image", device)).float().cpu())
            ids, mask = _stack(samples, "input_ids", device), _stack(samples, "attention_mask", device)
            text_emb.append(network.encode_text(ids, mask).float().cpu())
        recalls = retrieval_recall(torch.cat(image_emb), torch.cat(text_emb), self.ks)
        return {f"retrieval_{name}": value for name, value in recalls.items()} | {
            "retrieval_samples": sum(len(e) for e in image_emb)
        }
