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

    A weight of 0 switches its term off: it is neither computed nor logged. After each call,
    :attr:`last_terms` holds the detached value of every active term (``modality`` is split into its image
    and text parts) and ``total``, for logging.

    Args:
        match_head: the network's image-text matching head, used by the instance term.
        global_weight: λ1.
        local_weight: λ2.
        instance_weight: λ3.
        modality_weight: λ4.
        global_loss: the global term; default :class:`GlobalAlignmentLoss`.
        local_loss: the local term; default :class:`LocalAlignmentLoss`.
        instance_loss: the instance term; default :class:`InstanceMatchingLoss`.
        modality_loss: the modality term; default :class:`ModalityReconstructionLoss`.

    Raises:
        ValueError: when every weight is 0, or the instance term is on without a ``match_head``.
    """

    def __init__(
        self,
        match_head: nn.Module | None = None,
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
        if instance_weight and match_head is None:
            raise ValueError("the instance term needs the network's match_head.")
        self.match_head = match_head
        self.global_loss = global_loss or GlobalAlignmentLoss()
        self.local_loss = local_loss or LocalAlignmentLoss()
        self.instance_loss = instance_loss or InstanceMatchingLoss()
        self.modality_loss = modality_loss or ModalityReconstructionLoss()
        self.last_terms: dict[str, torch.Tensor] = {}

    @property
    def active_terms(self) -> tuple[str, ...]:
        """Names of the terms that are computed and logged."""
        names = [name for name in ("global", "local", "instance") if self.weights[name]]
        if self.weights["modality"]:
            names += ["modality_image", "modality_text"]
        return tuple(names)

    def forward(self, outputs: Mapping[str, torch.Tensor], target: object = None) -> torch.Tensor:
        """
        Args:
            outputs: the network's training output dict.
            target: unused; present for the ``loss(pred, label)`` call of MONAI trainers.

        Returns:
            the weighted total.
        """
        terms: dict[str, torch.Tensor] = {}
        if self.weights["global"]:
            terms["global"] = self.global_loss(outputs["image_emb"], outputs["text_emb"])
        if self.weights["local"]:
            terms["local"] = self.local_loss(outputs["region_emb"], outputs["sentence_emb"], outputs["sentence_mask"])
        if self.weights["instance"]:
            terms["instance"] = self.instance_loss(
                outputs["image_emb"], outputs["text_emb"], self.match_head, outputs.get("input_ids")
            )
        if self.weights["modality"]:
            if "mae_pred" not in outputs:
                raise KeyError("the modality term needs the network's reconstruction outputs (with_reconstruction).")
            terms["modality_image"] = self.modality_loss.masked_image_loss(
                outputs["mae_pred"], outputs["mae_target"], outputs["mae_mask"]
            )
            terms["modality_text"] = self.modality_loss.masked_language_loss(
                outputs["mlm_logits"], outputs["mlm_labels"]
            )
        total = sum(self.weights[name.split("_")[0]] * value for name, value in terms.items())
        self.last_terms = {name: value.detach() for name, value in terms.items()}
        self.last_terms["total"] = total.detach()
        return total
