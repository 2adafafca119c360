"""Zero-shot uses of the pretrained model: an image scored against a positive and a negative prompt set, and the
phrase-patch similarity maps of phrase grounding."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch import nn

from msfm.data.reports import report_sentences
from msfm.data.tokenization import tokenize_sentences
from msfm.networks.image_embedder import MSFMImageEmbedder
from msfm.networks.image_encoder import MSFMImageEncoder
from msfm.networks.msfm_net import MSFMNet

__all__ = [
    "PhraseSimilarityMap",
    "ZeroShotClassifier",
    "prompt_prototypes",
    "zero_shot_classifier",
    "zero_shot_probability",
]


def zero_shot_probability(image_emb: torch.Tensor, prototypes: torch.Tensor) -> torch.Tensor:
    """``p = exp(s+) / (exp(s+) + exp(s−))`` with ``s± = image · prototype±`` (REFERENCE §2).

    Args:
        image_emb: ``[B, D]`` unit-norm image embeddings.
        prototypes: ``[2, D]`` mean prompt embeddings of the positive and the negative set.

    Returns:
        ``[B]`` probabilities of the positive class.
    """
    return (image_emb.float() @ prototypes.float().t()).softmax(dim=1)[:, 0]


@torch.no_grad()
def prompt_prototypes(
    network: MSFMNet, tokenizer, prompts: Mapping[str, Sequence[str]], max_length: int = 64
) -> torch.Tensor:
    """``[2, D]`` prototypes: the mean report embedding of the ``"positive"`` and of the ``"negative"`` prompts
    (each prompt one text unit; the means are not re-normalised), with ``network`` in eval mode (no dropout).

    Raises:
        ValueError: when either prompt set is missing or empty.
    """
    if not prompts.get("positive") or not prompts.get("negative"):
        raise ValueError(f"prompts need non-empty 'positive' and 'negative' lists, got {dict(prompts)}")
    device, training = next(network.parameters()).device, network.training
    network.eval()
    rows = []
    for name in ("positive", "negative"):
        tokens = [tokenize_sentences(report_sentences(p), tokenizer, max_length, 1) for p in prompts[name]]
        ids = torch.as_tensor(np.stack([t["input_ids"] for t in tokens]), device=device)
        mask = torch.as_tensor(np.stack([t["attention_mask"] for t in tokens]), device=device)
        rows.append(network.encode_text(ids, mask).float().mean(dim=0))
    network.train(training)
    return torch.stack(rows)


class ZeroShotClassifier(MSFMImageEmbedder):
    """``[B, C, H, W]`` radiographs → ``[B, 1]`` zero-shot probabilities of one finding
    (:func:`zero_shot_probability` against the ``prototypes`` buffer).

    Build it from the pretrained model and two prompt sets with :func:`zero_shot_classifier`; its state (the image half of
    the model and the prototypes) is then all that inference needs, with no tokenizer or report encoder, and it
    exports to TorchScript.

    Args:
        image_encoder: the image encoder; None builds ViT-B/16 at ``img_size`` without the MAE decoder.
        embed_dim: width of the shared embedding space.
        img_size: input size of the default image encoder.
    """

    def __init__(
        self, image_encoder: MSFMImageEncoder | None = None, embed_dim: int = 512, img_size: int = 224
    ) -> None:
        super().__init__(image_encoder, embed_dim, img_size)
        self.register_buffer("prototypes", torch.zeros(2, embed_dim))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return zero_shot_probability(self.embed(images), self.prototypes)[:, None]


def zero_shot_classifier(
    network: MSFMNet, tokenizer, prompts: Mapping[str, Sequence[str]], max_length: int = 64
) -> ZeroShotClassifier:
    """The :class:`ZeroShotClassifier` sharing ``network``'s image encoder and projection, with the prototypes of
    ``prompts`` (:func:`prompt_prototypes`)."""
    classifier = ZeroShotClassifier(network.image_encoder, network.image_proj.net[-1].out_features)
    classifier.image_proj = network.image_proj
    classifier.prototypes.copy_(prompt_prototypes(network, tokenizer, prompts, max_length))
    return classifier.to(next(network.parameters()).device)


class PhraseSimilarityMap(nn.Module):
    """Phrase grounding's network: ``(images, input_ids, attention_mask, sentence_index)`` → ``[B, h, w]`` cosine
    of each image's phrase with every patch (:meth:`msfm.networks.MSFMNet.similarity_map`), the whole phrase being
    one text unit even when it reads as several sentences.

    Args:
        network: the pretrained model.
        space: ``"local"`` (the sentence-region space) or ``"global"`` (see
            :meth:`msfm.networks.MSFMNet.similarity_map`).
    """

    def __init__(self, network: MSFMNet, space: str = "local") -> None:
        super().__init__()
        self.network = network
        self.space = space

    def forward(
        self, images: torch.Tensor, input_ids: torch.Tensor, attention_mask: torch.Tensor, sentence_index: torch.Tensor
    ) -> torch.Tensor:
        return self.network.similarity_map(
            images, input_ids, attention_mask, sentence_index.clamp(max=0), space=self.space
        )
