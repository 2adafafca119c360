"""The four pretraining objectives and their weighted sum."""

from __future__ import annotations

from msfm.losses.global_alignment import GlobalAlignmentLoss, symmetric_cross_entropy
from msfm.losses.instance_matching import InstanceMatchingLoss
from msfm.losses.local_alignment import LocalAlignmentLoss, local_alignment_scores
from msfm.losses.modality_reconstruction import ModalityReconstructionLoss
from msfm.losses.multi_scale import LOSS_TERMS, MultiScaleLoss

__all__ = [
    "GlobalAlignmentLoss",
    "InstanceMatchingLoss",
    "LOSS_TERMS",
    "LocalAlignmentLoss",
    "ModalityReconstructionLoss",
    "MultiScaleLoss",
    "local_alignment_scores",
    "symmetric_cross_entropy",
]
