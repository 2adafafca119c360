"""Reading msfm checkpoints: the one place that opens a weights file (always with ``weights_only=True``)."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence

import torch
from monai.networks.utils import copy_model_state
from torch import nn

__all__ = ["read_network_state", "load_network_weights", "load_pretrained_vit"]

logger = logging.getLogger(__name__)

_VIT_PREFIX = "image_encoder.vit."
# weights that msfm 0.2 kept in the loss instead of the network
_LEGACY_LOSS_KEYS = {"global_loss.log_logit_scale": "log_logit_scale"}


def read_network_state(checkpoint: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The network weights of an msfm checkpoint.

    Accepts a bundle's ``models/model.pt`` (``{"model": state}``), a training checkpoint (``{"network": state,
    ...}``) or a bare state dict. A training checkpoint of msfm 0.2, whose temperature lived in its ``"loss"``
    entry, gets it back under the network's key.

    Raises:
        FileNotFoundError: naming the file.
        ValueError: naming the file, when it holds no state dict.
    """
    if not os.path.isfile(checkpoint):
        raise FileNotFoundError(f"checkpoint {checkpoint} not found.")
    content = torch.load(checkpoint, map_location="cpu", weights_only=True)
    if not isinstance(content, Mapping):
        raise ValueError(f"{checkpoint}: expected a state dict, got {type(content).__name__}.")
    state = next((content[k] for k in ("model", "network") if isinstance(content.get(k), Mapping)), content)
    state = dict(state)
    legacy_loss = content.get("loss") if isinstance(content.get("loss"), Mapping) else {}
    for old, new in _LEGACY_LOSS_KEYS.items():
        if old in legacy_loss and new not in state:
            state[new] = legacy_loss[old]
    return state


# state added in later versions: name -> what a checkpoint lacking it is
_ADDED_LATER = {
    "log_logit_scale": "temperature (an msfm 0.2 model.pt)",
    "region_position_mean": "per-position region mean (pretrained before msfm 0.7)",
}
# settings saved as buffers: name -> (setting, its value from the buffer, the buffer's value before it was saved;
# None where that is unknown and the config's value stands)
_SAVED_SETTINGS = {
    "text_encoder.isolates_sentences": ("isolate_sentences", bool, 0),  # full attention before msfm 0.9
    "text_encoder.pools_report_by_mean": ("report_pooling", lambda saved: "mean" if saved else "cls", None),
}


def load_network_weights(
    network: nn.Module, checkpoint: str | os.PathLike | None, optional_prefixes: Sequence[str] = ()
) -> nn.Module:
    """Load an msfm checkpoint into ``network`` in place; ``None`` keeps the random initialisation (the baseline).

    Every weight must fit, except those under ``optional_prefixes`` (a part the caller does not build or use,
    such as the MAE decoder for zero-shot work), the temperature of an msfm 0.2 ``model.pt`` and the running
    per-position region mean of a checkpoint pretrained before msfm 0.7 (``center_positions``), which they did
    not store: each keeps its initial value, with a warning (the temperature is read by no inference path; a zero
    position mean leaves the regions as such a checkpoint was trained with). The text encoder encodes reports
    as the checkpoint was trained, with a warning where that is not the configured setting:
    ``isolate_sentences`` (full attention before msfm 0.9, which did not store it) and ``report_pooling`` (not
    stored before msfm 0.9.2: the configured pooling, with a warning).

    Raises:
        FileNotFoundError: naming the file.
        ValueError: naming the file and the first misfits, when weights are missing, unexpected or of another
            shape.
    """
    if checkpoint is None:
        return network
    optional_prefixes = tuple(optional_prefixes)
    state = {k: v for k, v in read_network_state(checkpoint).items() if not k.startswith(optional_prefixes)}
    own = {k for k in network.state_dict() if not k.startswith(optional_prefixes)}
    missing = sorted(own - state.keys())
    for name in sorted(set(missing) & _ADDED_LATER.keys()):
        logger.warning(f"{checkpoint} has no {_ADDED_LATER[name]}: it keeps its initial value.")
        state[name] = network.state_dict()[name]
        missing.remove(name)
    for name in sorted(own & _SAVED_SETTINGS.keys()):
        _follow_saved_setting(name, network.state_dict()[name], state, checkpoint)
        if name in missing:
            missing.remove(name)
    unexpected = sorted(state.keys() - own)
    if missing or unexpected:
        raise ValueError(
            f"{checkpoint} does not fit this network (are its settings the pretraining config's?): "
            f"missing {missing[:3]}, unexpected {unexpected[:3]}."
        )
    try:
        network.load_state_dict(state, strict=not optional_prefixes)
    except RuntimeError as error:
        raise ValueError(f"{checkpoint} does not fit this network: {error}") from error
    return network


def _follow_saved_setting(name: str, configured: torch.Tensor, state: dict, checkpoint: str | os.PathLike) -> None:
    """Give ``state`` the setting ``name`` it was trained with, warning where the config says otherwise."""
    setting, read, before_saved = _SAVED_SETTINGS[name]
    if name not in state:
        if before_saved is None:
            logger.warning(
                f"{checkpoint} does not record its {setting}: the config's {read(configured)!r} is used, which "
                "must be the pretraining's."
            )
            state[name] = configured.clone()
            return
        state[name] = torch.full_like(configured, before_saved)
    trained, wanted = read(state[name]), read(configured)
    if trained != wanted:
        logger.warning(
            f"{checkpoint} was pretrained with {setting}={trained!r}, the config sets {wanted!r}: its text encoder "
            "keeps the setting it was trained with."
        )


def load_pretrained_vit(vit: nn.Module, checkpoint: str | os.PathLike | None) -> nn.Module:
    """Load the image encoder of an msfm pretraining checkpoint into a downstream network's MONAI ViT, in place.

    MONAI's ``copy_model_state`` moves the ``image_encoder.vit.*`` weights over. It skips a weight that does not
    fit; here that is an error, checked before anything is copied (only the ViT's own unused ``cls_token`` and
    classification head may stay as they are).

    Args:
        vit: the downstream network's ViT (``network.vit``).
        checkpoint: an msfm pretraining checkpoint; ``None`` leaves the random initialisation.

    Returns:
        ``vit``.

    Raises:
        FileNotFoundError: naming the file and how to make it.
        ValueError: naming the file and the first misfits (the downstream encoder settings must be the
            pretraining ones).
    """
    if checkpoint is None:
        return vit
    if not os.path.isfile(checkpoint):
        raise FileNotFoundError(
            f"pretrained checkpoint {checkpoint} not found: run the pretraining bundle (bundles/msfm) first, "
            "or set pretrained_checkpoint to null for a randomly initialised encoder."
        )
    source = {k[len(_VIT_PREFIX) :]: v for k, v in read_network_state(checkpoint).items() if k.startswith(_VIT_PREFIX)}
    if not source:
        raise ValueError(f"{checkpoint}: no '{_VIT_PREFIX}*' weights; is it an msfm pretraining checkpoint?")
    own = vit.state_dict()
    missing = sorted(k for k in own.keys() - source.keys() if not k.startswith(("cls_token", "classification_head")))
    unexpected = sorted(source.keys() - own.keys())
    mismatched = [
        f"{k}: {tuple(v.shape)} vs {tuple(own[k].shape)}" for k, v in source.items() if k in own and v.shape != own[k].shape
    ]
    if missing or unexpected or mismatched:
        raise ValueError(
            f"{checkpoint} does not fit this encoder (are image_size, hidden_size, num_layers, ... the pretraining "
            f"ones?): missing {missing[:3]}, unexpected {unexpected[:3]}, shape mismatch {mismatched[:3]}"
        )
    copy_model_state(vit, source, inplace=True)
    return vit
