"""Networks: the ViT image encoder, the BERT report encoder, heads, the composed model and the downstream
classification and segmentation networks."""

from __future__ import annotations

from msfm.networks.downstream import ViTClassifier, ViTSegmentationNet, load_pretrained_vit, pretrained_vit_state
from msfm.networks.heads import ImageTextMatchingHead, ProjectionHead
from msfm.networks.image_encoder import MaskedPatchDecoder, MSFMImageEncoder, patchify
from msfm.networks.msfm_net import MSFMNet
from msfm.networks.text_encoder import MSFMTextEncoder, mask_tokens

__all__ = [
    "ImageTextMatchingHead",
    "MSFMImageEncoder",
    "MSFMNet",
    "MSFMTextEncoder",
    "MaskedPatchDecoder",
    "ProjectionHead",
    "ViTClassifier",
    "ViTSegmentationNet",
    "load_pretrained_vit",
    "mask_tokens",
    "patchify",
    "pretrained_vit_state",
]
