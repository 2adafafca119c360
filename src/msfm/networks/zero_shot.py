"""Zero-shot uses of the pretrained model: an image scored against a positive and a negative prompt set, and the
phrase-patch similarity maps of phrase grounding."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from msfm.data.reports import report_sentences
from msfm.data.tokenization import tokenize_sentences
from msfm.networks.image_embedder import MSFMImageEmbedder
from msfm.networks.image_encoder import MSFMImageEncoder
from msfm.networks.msfm_net import MSFMNet, centred_regions

__all__ = [
    "ZERO_SHOT_SCORINGS",
    "PhraseSimilarityMap",
    "ZeroShotClassifier",
    "attended_cosine",
    "prompt_prototypes",
    "zero_shot_classifier",
]


ZERO_SHOT_SCORINGS = ("global", "local", "both")


def attended_cosine(
    regions: torch.Tensor, phrases: torch.Tensor, gamma1: float = 4.0, eps: float = 1e-8
) -> torch.Tensor:
    """GLoRIA's local similarity of an image and a one-sentence text, the local term's ``Z(i, k)``
    (:func:`msfm.losses.local_alignment_scores`) for a report of one sentence:

    ``a_r = softmax_r(γ1·cos(t, v_r))``, ``c = Σ_r a_r v_r``, ``score = cos(c, t)``.

    Args:
        regions: ``[B, R, D]`` region embeddings ``v_r``.
        phrases: ``[P, D]`` phrase embeddings ``t``.
        gamma1: attention sharpness γ1, as in the local term.
        eps: numerical floor of the norms.

    Returns:
        ``[B, P]`` scores.
    """
    phrases = F.normalize(phrases.float(), dim=-1, eps=eps)
    regions = regions.float()
    cosine = torch.einsum("pd,brd->bpr", phrases, F.normalize(regions, dim=-1, eps=eps))
    context = torch.softmax(gamma1 * cosine, dim=-1) @ regions
    return (F.normalize(context, dim=-1, eps=eps) * phrases).sum(dim=-1)


@torch.no_grad()
def prompt_prototypes(
    network: MSFMNet, tokenizer, prompts: Mapping[str, Sequence[str]], max_length: int = 64, space: str = "global"
) -> torch.Tensor:
    """``[2, D]`` prototypes: the mean embedding of the ``"positive"`` and of the ``"negative"`` prompts (each
    prompt one text unit; the means are not re-normalised), with ``network`` in eval mode (no dropout). In the
    ``"global"`` space a prompt is embedded as a report, in the ``"local"`` space as a phrase
    (:meth:`msfm.networks.MSFMNet.encode_phrase`).

    Raises:
        ValueError: when either prompt set is missing or empty, or for another ``space``.
    """
    if not prompts.get("positive") or not prompts.get("negative"):
        raise ValueError(f"prompts need non-empty 'positive' and 'negative' lists, got {dict(prompts)}")
    if space not in ("global", "local"):
        raise ValueError(f"space must be 'global' or 'local', got {space!r}.")
    device, training = next(network.parameters()).device, network.training
    network.eval()
    rows = []
    for name in ("positive", "negative"):
        tokens = [tokenize_sentences(report_sentences(p), tokenizer, max_length, 1) for p in prompts[name]]
        batch = {k: torch.as_tensor(np.stack([t[k] for t in tokens]), device=device) for k in tokens[0]}
        if space == "global":
            embeddings = network.encode_text(batch["input_ids"], batch["attention_mask"], batch["sentence_index"])
        else:
            sentence_index = batch["sentence_index"].clamp(max=0)
            embeddings = network.encode_phrase(batch["input_ids"], batch["attention_mask"], sentence_index)
        rows.append(embeddings.float().mean(dim=0))
    network.train(training)
    return torch.stack(rows)


class ZeroShotClassifier(MSFMImageEmbedder):
    """``[B, C, H, W]`` radiographs → ``[B, 1]`` zero-shot probabilities of one finding,
    ``p = exp(s+) / (exp(s+) + exp(s−))``.

    The scores ``s±`` compare the image with the positive and the negative prompt prototype:

    - ``"global"``: the global embeddings' cosine, ``image · prototype±`` (REFERENCE §2, the CLIP way);
    - ``"local"``: :func:`attended_cosine` of the image's regions and the prompts' phrase prototype, the local
      term's score;
    - ``"both"``: their sum, as GLoRIA classifies zero-shot.

    Build it from the pretrained model and two prompt sets with :func:`zero_shot_classifier`; its state (the image
    half of the model and the prototypes; when scoring locally also the local projection, the per-position region
    mean and γ1) is then all that inference needs, with no tokenizer or report encoder, and it exports to
    TorchScript.

    Args:
        image_encoder: the image encoder; None builds ViT-B/16 at ``img_size`` without the MAE decoder.
        embed_dim: width of the shared embedding space.
        img_size: input size of the default image encoder.
        scoring: ``"global"``, ``"local"`` or ``"both"``.
        center_regions: centre each image's regions, as the pretrained network's ``center_regions``.
        center_positions: centre regions per position, as the pretrained network's ``center_positions``.
        gamma1: the local term's attention sharpness γ1.

    Raises:
        ValueError: for another ``scoring``.
    """

    def __init__(
        self,
        image_encoder: MSFMImageEncoder | None = None,
        embed_dim: int = 512,
        img_size: int = 224,
        scoring: str = "global",
        center_regions: bool = True,
        center_positions: bool = True,
        gamma1: float = 4.0,
    ) -> None:
        super().__init__(image_encoder, embed_dim, img_size)
        if scoring not in ZERO_SHOT_SCORINGS:
            raise ValueError(f"scoring must be one of {ZERO_SHOT_SCORINGS}, got {scoring!r}.")
        self.scoring = scoring
        self.register_buffer("prototypes", torch.zeros(2, embed_dim))
        if scoring != "global":
            self.region_proj = nn.Linear(self.image_encoder.hidden_size, embed_dim)
            self.register_buffer("phrase_prototypes", torch.zeros(2, embed_dim))
            self.center_regions = center_regions
            self.register_buffer("gamma1", torch.tensor(float(gamma1)))  # saved with the prototypes it scores with
            if center_positions:
                num_regions = math.prod(self.image_encoder.grid_size)
                self.register_buffer("region_position_mean", torch.zeros(num_regions, embed_dim))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        tokens = self.image_encoder(images)
        scores = torch.zeros(images.shape[0], 2, device=images.device)
        if self.scoring != "local":
            image_emb = F.normalize(self.image_proj(tokens.mean(dim=1)), dim=-1)
            scores = scores + image_emb.float() @ self.prototypes.float().t()
        if hasattr(self, "region_proj"):
            position_mean: Optional[torch.Tensor] = None
            if hasattr(self, "region_position_mean"):
                position_mean = self.region_position_mean
            regions = centred_regions(self.region_proj(tokens), position_mean, self.center_regions)
            scores = scores + attended_cosine(regions, self.phrase_prototypes, float(self.gamma1))
        return scores.softmax(dim=1)[:, :1]


def zero_shot_classifier(
    network: MSFMNet,
    tokenizer,
    prompts: Mapping[str, Sequence[str]],
    max_length: int = 64,
    scoring: str = "global",
    gamma1: float = 4.0,
) -> ZeroShotClassifier:
    """The :class:`ZeroShotClassifier` sharing ``network``'s image encoder and projections, with the prototypes of
    ``prompts`` (:func:`prompt_prototypes`) in the spaces that ``scoring`` compares in."""
    classifier = ZeroShotClassifier(
        network.image_encoder,
        network.image_proj.net[-1].out_features,
        scoring=scoring,
        center_regions=network.center_regions,
        center_positions=network.center_positions,
        gamma1=gamma1,
    )
    classifier.image_proj = network.image_proj
    classifier.prototypes.copy_(prompt_prototypes(network, tokenizer, prompts, max_length))
    if scoring != "global":
        classifier.region_proj = network.region_proj
        classifier.phrase_prototypes.copy_(prompt_prototypes(network, tokenizer, prompts, max_length, "local"))
        if network.center_positions:
            classifier.region_position_mean.copy_(network.region_position_mean)
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
