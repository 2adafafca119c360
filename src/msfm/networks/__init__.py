"""Networks: the ViT image encoder, the BERT report encoder, heads, the composed model, its deployable image
half, the zero-shot classifier and the downstream classification and segmentation networks."""

from __future__ import annotations

from msfm.networks.checkpoints import load_network_weights, load_pretrained_vit, read_network_state
from msfm.networks.downstream import ViTClassifier, ViTSegmentationNet
from msfm.networks.heads import ImageTextMatchingHead, ProjectionHead
from msfm.networks.image_embedder import MSFMImageEmbedder
from msfm.networks.image_encoder import MaskedPatchDecoder, MSFMImageEncoder, patchify
from msfm.networks.matching import HardNegativeSampler, report_duplicate_mask
from msfm.networks.msfm_net import MSFMNet
from msfm.networks.text_encoder import MSFMTextEncoder, mask_tokens
from msfm.networks.zero_shot import (
    ZERO_SHOT_SCORINGS,
    PhraseSimilarityMap,
    ZeroShotClassifier,
    attended_cosine,
    prompt_prototypes,
    zero_shot_classifier,
)

__all__ = [
    "ZERO_SHOT_SCORINGS",
    "HardNegativeSampler",
    "ImageTextMatchingHead",
    "MSFMImageEmbedder",
    "MSFMImageEncoder",
    "MSFMNet",
    "MSFMTextEncoder",
    "MaskedPatchDecoder",
    "PhraseSimilarityMap",
    "ProjectionHead",
    "ViTClassifier",
    "ViTSegmentationNet",
    "ZeroShotClassifier",
    "attended_cosine",
    "load_network_weights",
    "load_pretrained_vit",
    "mask_tokens",
    "patchify",
    "prompt_prototypes",
    "read_network_state",
    "report_duplicate_mask",
    "zero_shot_classifier",
]
