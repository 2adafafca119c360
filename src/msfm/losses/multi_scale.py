"""The four-scale pretraining objective."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from msfm.losses.global_alignment import GlobalAlignmentLoss
from msfm.losses.instance_matching import InstanceMatchingLoss
from msfm.losses.local_alignment import LocalAlignmentLoss
from msfm.losses.modality_reconstruction import ModalityReconstructionLoss

__all__ = ["MultiScaleLoss", "LOSS_TERMS"]

LOSS_TERMS = ("global", "local", "instance", "modality_image", "modality_text")


class MultiScaleLoss(nn.Module):
    """``L = λ1·Lg + λ2·Ll + λ3·Li + λ4·Lm`` over the output dict of :class:`msfm.networks.MSFMNet`.

    Stateless: every trainable parameter (the temperature, the matching head) belongs to the network. A weight of
    0 switches its term off: it is neither computed nor returned, and :attr:`needs_reconstruction` and
    :attr:`needs_matching` tell the workflow which of the network's optional outputs to ask for.

    Args:
        global_weight: λ1.
        local_weight: λ2.
        instance_weight: λ3.
        modality_weight: λ4.
        global_loss: the global term; default :class:`GlobalAlignmentLoss`.
        local_loss: the local term; default :class:`LocalAlignmentLoss`.
        instance_loss: the instance term; default :class:`InstanceMatchingLoss`.
        modality_loss: the modality term; default :class:`ModalityReconstructionLoss`.

    Raises:
        ValueError: when every weight is 0.
    """

    def __init__(
        self,
        global_weight: float = 1.0,
        local_weight: float = 1.0,
        instance_weight: float = 1.0,
        modality_weight: float = 1.0,
        global_loss: GlobalAlignmentLoss | None = None,
        local_loss: LocalAlignmentLoss | None = None,
        instance_loss: InstanceMatchingLoss | None = None,
        modality_loss: ModalityReconstructionLoss | None = None,
    ) -> None:
        super().__init__()
        self.weights = {
            "global": global_weight,
            "local": local_weight,
            "instance": instance_weight,
            "modality": modality_weight,
        }
        if not any(self.weights.values()):
            raise ValueError("all loss weights are 0: nothing to train.")
        self.global_loss = global_loss or GlobalAlignmentLoss()
        self.local_loss = local_loss or LocalAlignmentLoss()
        self.instance_loss = instance_loss or InstanceMatchingLoss()
        self.modality_loss = modality_loss or ModalityReconstructionLoss()

    @property
    def active_terms(self) -> tuple[str, ...]:
        """Names of the terms that are computed and returned (``modality`` as its image and text parts)."""
        names = [name for name in ("global", "local", "instance") if self.weights[name]]
        if self.weights["modality"]:
            names += ["modality_image", "modality_text"]
        return tuple(names)

    @property
    def needs_reconstruction(self) -> bool:
        """Whether the network must compute its MAE and MLM outputs."""
        return bool(self.weights["modality"])

    @property
    def needs_matching(self) -> bool:
        """Whether the network must score matching and hard-negative pairs."""
        return bool(self.weights["instance"])

    def forward(self, outputs: Mapping[str, torch.Tensor], target: object = None) -> dict[str, torch.Tensor]:
        """
        Args:
            outputs: the network's training output dict.
            target: unused; present for the ``loss(pred, label)`` call of MONAI trainers.

        Returns:
            every active term and their weighted sum, ``"total"``.

        Raises:
            KeyError: when the network did not compute an output that an active term needs.
        """
        terms: dict[str, torch.Tensor] = {}
        if self.weights["global"]:
            terms["global"] = self.global_loss(outputs["image_emb"], outputs["text_emb"], outputs["logit_scale"])
        if self.weights["local"]:
            terms["local"] = self.local_loss(outputs["region_emb"], outputs["sentence_emb"], outputs["sentence_mask"])
        if self.weights["instance"]:
            if "itm_logits" not in outputs:
                raise KeyError("the instance term needs the network's matching outputs (forward(matching=True)).")
            terms["instance"] = self.instance_loss(outputs["itm_logits"], outputs["itm_targets"], outputs["itm_weights"])
        if self.weights["modality"]:
            if "mae_pred" not in outputs:
                raise KeyError("the modality term needs the network's reconstruction outputs (forward(reconstruction=True)).")
            terms["modality_image"] = self.modality_loss.masked_image_loss(
                outputs["mae_pred"], outputs["mae_target"], outputs["mae_mask"]
            )
            terms["modality_text"] = self.modality_loss.masked_language_loss(
                outputs["mlm_logits"], outputs["mlm_labels"]
            )
        terms["total"] = sum(self.weights[name.split("_")[0]] * value for name, value in terms.items())
        return terms
