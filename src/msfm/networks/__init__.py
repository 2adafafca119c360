"""Networks: the ViT image encoder, the BERT report encoder, heads, the composed model and the downstream
classification and segmentation networks."""

from __future__ import annotations

from msfm.networks.checkpoints import load_network_weights, load_pretrained_vit, read_network_state
from msfm.networks.downstream import ViTClassifier, ViTSegmentationNet
from msfm.networks.heads import ImageTextMatchingHead, ProjectionHead
from msfm.networks.image_encoder import MaskedPatchDecoder, MSFMImageEncoder, patchify
from msfm.networks.matching import HardNegativeSampler, report_duplicate_mask
from msfm.networks.msfm_net import MSFMNet
from msfm.networks.text_encoder import MSFMTextEncoder, mask_tokens

__all__ = [
    "HardNegativeSampler",
    "ImageTextMatchingHead",
    "MSFMImageEncoder",
    "MSFMNet",
    "MSFMTextEncoder",
    "MaskedPatchDecoder",
    "ProjectionHead",
    "ViTClassifier",
    "ViTSegmentationNet",
    "load_network_weights",
    "load_pretrained_vit",
    "mask_tokens",
    "patchify",
    "read_network_state",
    "report_duplicate_mask",
]
