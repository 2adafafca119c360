"""The image half of the pretrained model, for deployment: a radiograph in, its global embedding out."""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from msfm.networks.heads import ProjectionHead
from msfm.networks.image_encoder import MSFMImageEncoder

__all__ = ["MSFMImageEmbedder"]


class MSFMImageEmbedder(nn.Module):
    """``[B, C, H, W]`` radiographs → unit-norm global embeddings ``[B, embed_dim]``, as
    :meth:`msfm.networks.MSFMNet.encode_image` computes them.

    Its parameters carry the names they have in :class:`~msfm.networks.MSFMNet` (``image_encoder.vit.*``,
    ``image_proj.*``), so the pretraining's ``model.pt`` loads into it as is: :meth:`load_state_dict` takes the
    whole network's state and keeps the image half (the report encoder, the other heads and the MAE decoder are
    not built). It needs no tokenizer and exports to TorchScript.

    Args:
        image_encoder: the image encoder (a decoder, when it has one, is loaded but not used); None builds
            ViT-B/16 at ``img_size`` without the MAE decoder.
        embed_dim: width of the shared embedding space.
        img_size: input size of the default image encoder.
    """

    def __init__(
        self, image_encoder: MSFMImageEncoder | None = None, embed_dim: int = 512, img_size: int = 224
    ) -> None:
        super().__init__()
        if image_encoder is None:
            image_encoder = MSFMImageEncoder(img_size=img_size, decoder_num_layers=0)
        self.image_encoder = image_encoder
        self.image_proj = ProjectionHead(self.image_encoder.hidden_size, embed_dim)

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """``[B, C, H, W]`` → unit-norm ``[B, embed_dim]``."""
        return F.normalize(self.image_proj(self.image_encoder(images).mean(dim=1)), dim=-1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.embed(images)

    def load_state_dict(self, state_dict: Mapping[str, torch.Tensor], strict: bool = True, assign: bool = False):
        """Load the image half of an :class:`~msfm.networks.MSFMNet` state (or this network's own); with
        ``strict``, a parameter of the image half that the state lacks is still an error."""
        own = self.state_dict().keys()
        return super().load_state_dict({k: v for k, v in state_dict.items() if k in own}, strict, assign)
