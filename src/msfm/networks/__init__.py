"""Networks: the ViT image encoder, the BERT report encoder, heads and the composed model."""

from __future__ import annotations

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
    "mask_tokens",
    "patchify",
]
