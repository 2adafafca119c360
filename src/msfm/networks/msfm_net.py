"""The composed multi-scale vision-language network."""

from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from msfm.networks.heads import ImageTextMatchingHead, ProjectionHead
from msfm.networks.image_encoder import MSFMImageEncoder, patchify
from msfm.networks.matching import HardNegativeSampler
from msfm.networks.text_encoder import MSFMTextEncoder
from msfm.settings import require_flag

__all__ = ["MSFMNet", "centred_regions"]


def centred_regions(regions: torch.Tensor, position_mean: Optional[torch.Tensor], per_image: bool) -> torch.Tensor:
    """``[B, R, D]`` region embeddings less ``position_mean`` ``[R, D]`` (when given), then, with ``per_image``,
    less each image's mean region (see :class:`MSFMNet`)."""
    if position_mean is not None:
        regions = regions - position_mean.to(regions.dtype)
    return regions - regions.mean(dim=1, keepdim=True) if per_image else regions


class MSFMNet(nn.Module):
    """Image encoder + report encoder + heads, trained by :class:`msfm.losses.MultiScaleLoss`.

    The network owns every trainable parameter of the pretraining, so its state dict is all that inference needs.
    Global embeddings come from the mean region feature and the report feature
    (:meth:`MSFMTextEncoder.pool_report`) through :class:`ProjectionHead`; region and sentence features go through
    separate local projections into the same width; :attr:`itm_head` scores image-report pairs;
    ``log_logit_scale`` holds the contrastive temperature as ``log(1/τ)``, as in CLIP.

    With ``center_regions`` the projected region features of each image are centred on their mean over the
    image before the local loss and the grounding map use them. ViT tokens all carry much image-wide content;
    without centring the local loss can match sentences through that shared part, its attention stays almost
    uniform and the phrase maps do not localise. Centring leaves only what sets a region apart from the rest of
    its image, so matching a sentence needs the region that shows it. This is a choice beyond the paper's
    equation (which uses the region features as they are); ``center_regions=False`` restores it.

    With ``center_positions`` they are first centred per patch position on their mean over images: the batch
    mean in training, and in evaluation the running mean that training keeps (``region_position_mean``, as
    batch normalisation keeps its statistics). What every film shows at a place (position embeddings, the
    usual anatomy there) is the same for every phrase; left in, it draws the same smooth map whatever the
    phrase. Removed, a region keeps what sets it apart from the same place in other films, which is where a
    finding shows.

    Args:
        image_encoder: the ViT image encoder.
        text_encoder: the BERT report encoder.
        embed_dim: width of the shared embedding space.
        itm_hidden_dim: hidden width of the matching head; None: ``embed_dim``.
        mask_ratio: MAE share of hidden patches.
        mlm_probability: MLM share of masked tokens.
        center_regions: centre each image's region embeddings on their mean (see above).
        center_positions: centre region embeddings per position on their mean over images (see above).
        position_momentum: weight of each training batch in the running per-position mean.
        temperature: initial contrastive τ.
        learnable_temperature: learn τ; otherwise it stays fixed (a buffer).
        max_logit_scale: upper clamp of ``1/τ`` for stability (CLIP uses 100).
        negative_sampler: draws the hard negatives of the matching outputs; default :class:`HardNegativeSampler`.

    Raises:
        ValueError: for a non-positive temperature.
    """

    def __init__(
        self,
        image_encoder: MSFMImageEncoder,
        text_encoder: MSFMTextEncoder,
        embed_dim: int = 512,
        itm_hidden_dim: int | None = None,
        mask_ratio: float = 0.75,
        mlm_probability: float = 0.15,
        center_regions: bool = True,
        center_positions: bool = False,
        position_momentum: float = 0.1,
        temperature: float = 0.07,
        learnable_temperature: bool = True,
        max_logit_scale: float = 100.0,
        negative_sampler: HardNegativeSampler | None = None,
    ) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}.")
        self.image_encoder = image_encoder
        self.text_encoder = text_encoder
        image_width, text_width = image_encoder.hidden_size, text_encoder.hidden_size
        self.image_proj = ProjectionHead(image_width, embed_dim)
        self.text_proj = ProjectionHead(text_width, embed_dim)
        self.region_proj = nn.Linear(image_width, embed_dim)
        self.sentence_proj = nn.Linear(text_width, embed_dim)
        self.itm_head = ImageTextMatchingHead(embed_dim, itm_hidden_dim or embed_dim)
        self.mask_ratio = mask_ratio
        self.mlm_probability = mlm_probability
        self.center_regions = require_flag(center_regions, "center_regions")
        self.center_positions = require_flag(center_positions, "center_positions")
        self.position_momentum = position_momentum
        if self.center_positions:
            num_regions = math.prod(image_encoder.grid_size)
            self.register_buffer("region_position_mean", torch.zeros(num_regions, embed_dim))
        log_scale = torch.tensor(math.log(1.0 / temperature))
        if require_flag(learnable_temperature, "learnable_temperature"):
            self.log_logit_scale = nn.Parameter(log_scale)
        else:
            self.register_buffer("log_logit_scale", log_scale)
        self.max_logit_scale = max_logit_scale
        self.negative_sampler = negative_sampler or HardNegativeSampler()

    @property
    def logit_scale(self) -> torch.Tensor:
        """``1/τ``, clamped to ``max_logit_scale``."""
        return self.log_logit_scale.exp().clamp(max=self.max_logit_scale)

    def forward(
        self,
        images: torch.Tensor,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        sentence_index: torch.Tensor,
        reconstruction: bool = False,
        matching: bool = False,
    ) -> dict[str, torch.Tensor]:
        """
        Args:
            images: ``[B, C, H, W]``.
            input_ids: ``[B, L]`` report tokens.
            attention_mask: ``[B, L]``.
            sentence_index: ``[B, L]`` sentence of each token, -1 for special and padding tokens.
            reconstruction: also run the masked image and masked language passes (the modality term).
            matching: also draw hard negatives and score them with :attr:`itm_head` (the instance term).

        Returns:
            ``image_emb [B, D]``, ``text_emb [B, D]``, ``region_emb [B, R, D]``, ``sentence_emb [B, S, D]``,
            ``sentence_mask [B, S]`` and ``logit_scale []``; with ``reconstruction`` also ``mae_pred``,
            ``mae_target``, ``mae_mask``, and ``mlm_logits [N, V]`` and ``mlm_labels [N]`` of the N masked tokens;
            with ``matching`` also ``itm_logits``, ``itm_targets`` and ``itm_weights`` ``[3B]`` (see
            :class:`msfm.networks.matching.MatchingPairs`).
        """
        regions = self.image_encoder(images)
        text = self.text_encoder(input_ids, attention_mask, sentence_index)
        outputs = {
            "image_emb": self.image_proj(regions.mean(dim=1)),
            "text_emb": self.text_proj(text["report"]),
            "region_emb": self.region_embeddings(regions),
            "sentence_emb": self.sentence_proj(text["sentences"]),
            "sentence_mask": text["sentence_mask"],
            "logit_scale": self.logit_scale,
        }
        if matching:
            pairs = self.negative_sampler(outputs["image_emb"], outputs["text_emb"], input_ids, attention_mask)
            outputs["itm_logits"] = self.itm_head(pairs.images, pairs.texts)
            outputs["itm_targets"], outputs["itm_weights"] = pairs.targets, pairs.weights
        if reconstruction:
            outputs["mae_pred"], outputs["mae_mask"] = self.image_encoder.forward_masked(images, self.mask_ratio)
            outputs["mae_target"] = patchify(images, self.image_encoder.patch_size)
            outputs["mlm_logits"], outputs["mlm_labels"] = self.text_encoder.forward_masked(
                input_ids, attention_mask, sentence_index, self.mlm_probability
            )
        return outputs

    def region_embeddings(self, tokens: torch.Tensor) -> torch.Tensor:
        """Image-encoder tokens ``[B, R, W]`` → region embeddings ``[B, R, D]`` of the local space."""
        regions = self.region_proj(tokens)
        position_mean = None
        if self.center_positions:
            if self.training:
                position_mean = regions.mean(dim=0)
                with torch.no_grad():
                    self.region_position_mean.lerp_(position_mean.float(), self.position_momentum)
            else:
                position_mean = self.region_position_mean
        return centred_regions(regions, position_mean, self.center_regions)

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        """``[B, C, H, W]`` → unit-norm global image embeddings ``[B, D]``."""
        return F.normalize(self.image_proj(self.image_encoder(images).mean(dim=1)), dim=-1)

    def encode_text(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, sentence_index: Optional[torch.Tensor] = None
    ) -> torch.Tensor:
        """``[B, L]`` tokens → unit-norm report embeddings ``[B, D]`` (``sentence_index`` is needed by a text
        encoder that isolates sentences)."""
        tokens = self.text_encoder.encode_tokens(input_ids, attention_mask, sentence_index)
        return F.normalize(self.text_proj(self.text_encoder.pool_report(tokens, attention_mask)), dim=-1)

    def encode_phrase(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, sentence_index: torch.Tensor
    ) -> torch.Tensor:
        """``[B, L]`` tokens of one phrase each (``sentence_index`` 0 on its tokens, -1 elsewhere) → unit-norm
        phrase embeddings ``[B, D]`` of the local space, as the local term embeds a sentence."""
        sentences = self.text_encoder(input_ids, attention_mask, sentence_index)["sentences"]
        return F.normalize(self.sentence_proj(sentences[:, 0]), dim=-1)

    def match_score(
        self,
        images: torch.Tensor,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        sentence_index: Optional[torch.Tensor] = None,
    ) -> torch.Tensor:
        """Probability that each image matches its paired report, ``[B]``."""
        text = self.encode_text(input_ids, attention_mask, sentence_index)
        return torch.sigmoid(self.itm_head(self.encode_image(images), text))

    def similarity_map(
        self,
        images: torch.Tensor,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        sentence_index: torch.Tensor,
        space: str = "local",
    ) -> torch.Tensor:
        """Cosine between a phrase and every patch.

        In the ``"local"`` space the patches are region embeddings and the phrase a sentence embedding, as the
        local term aligns them. In the ``"global"`` space each patch goes through the global image projection and
        the phrase is embedded as a one-sentence report, as BioViL grounds (Boecking et al., 2022): the patch
        embeddings then average to the embedding the global term contrasts.

        Args:
            images: ``[B, C, H, W]``.
            input_ids: ``[B, L]`` one phrase per image, tokenised as a one-sentence report.
            attention_mask: ``[B, L]``.
            sentence_index: ``[B, L]``, 0 on the phrase's tokens, -1 elsewhere.
            space: ``"local"`` or ``"global"``.

        Returns:
            ``[B, h, w]`` on the patch grid.

        Raises:
            ValueError: for another ``space``.
        """
        tokens = self.image_encoder(images)
        if space == "local":
            regions = F.normalize(self.region_embeddings(tokens), dim=-1)
            phrase = self.encode_phrase(input_ids, attention_mask, sentence_index)
        elif space == "global":
            regions = F.normalize(self.image_proj(tokens), dim=-1)
            phrase = self.encode_text(input_ids, attention_mask, sentence_index)
        else:
            raise ValueError(f"space must be 'local' or 'global', got {space!r}.")
        similarity = torch.einsum("brd,bd->br", regions, phrase)
        return similarity.reshape(-1, *self.image_encoder.grid_size)
