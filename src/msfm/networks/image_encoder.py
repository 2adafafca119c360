"""Image encoder: a MONAI ViT with a masked-autoencoder path."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from einops import rearrange
from monai.networks.blocks import TransformerBlock
from monai.networks.blocks.pos_embed_utils import build_sincos_position_embedding
from monai.networks.nets import ViT
from monai.utils import ensure_tuple_rep
from torch import nn

__all__ = ["MSFMImageEncoder", "MaskedPatchDecoder", "build_vit", "patchify"]


def patchify(images: torch.Tensor, patch_size: int) -> torch.Tensor:
    """``[B, C, H, W]`` → ``[B, R, p·p·C]`` in the row-major patch order of the ViT's patch embedding."""
    return rearrange(images, "b c (h p1) (w p2) -> b (h w) (p1 p2 c)", p1=patch_size, p2=patch_size)


def freeze_unused_cross_attention_norms(blocks: nn.ModuleList) -> None:
    """MONAI's TransformerBlock builds ``norm_cross_attn`` even without cross-attention; it never gets a gradient,
    which DDP rejects. Freeze it (it stays in the state dict, so checkpoints keep loading into MONAI networks)."""
    for block in blocks:
        if not block.with_cross_attention:
            block.norm_cross_attn.requires_grad_(False)


def build_vit(
    in_channels: int,
    img_size: Sequence[int] | int,
    patch_size: int,
    hidden_size: int,
    mlp_dim: int,
    num_layers: int,
    num_heads: int,
    dropout_rate: float = 0.0,
    qkv_bias: bool = False,
) -> ViT:
    """The 2D MONAI ViT (conv patch embedding, learnable positions, no class token) that the image encoder and
    the downstream networks share, so pretrained weights load by name; unused cross-attention norms frozen."""
    vit = ViT(
        in_channels=in_channels,
        img_size=img_size,
        patch_size=patch_size,
        hidden_size=hidden_size,
        mlp_dim=mlp_dim,
        num_layers=num_layers,
        num_heads=num_heads,
        proj_type="conv",
        classification=False,
        dropout_rate=dropout_rate,
        spatial_dims=2,
        qkv_bias=qkv_bias,
    )
    freeze_unused_cross_attention_norms(vit.blocks)
    return vit


class MaskedPatchDecoder(nn.Module):
    """MAE decoder: fills the hidden positions with a mask token and predicts every patch's pixels.

    Args:
        grid_size: patch grid ``(h, w)``.
        encoder_size: width of the encoder tokens.
        hidden_size: decoder width.
        mlp_dim: decoder MLP width.
        num_layers: decoder depth.
        num_heads: decoder heads.
        patch_dim: pixels per patch (``p·p·C``).
    """

    def __init__(
        self,
        grid_size: Sequence[int],
        encoder_size: int,
        hidden_size: int,
        mlp_dim: int,
        num_layers: int,
        num_heads: int,
        patch_dim: int,
    ) -> None:
        super().__init__()
        self.embed = nn.Linear(encoder_size, hidden_size)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, hidden_size))
        self.position_embeddings = build_sincos_position_embedding(list(grid_size), hidden_size, spatial_dims=2)
        self.blocks = nn.ModuleList(
            TransformerBlock(hidden_size, mlp_dim, num_heads, use_flash_attention=True) for _ in range(num_layers)
        )
        freeze_unused_cross_attention_norms(self.blocks)
        self.norm = nn.LayerNorm(hidden_size)
        self.pred = nn.Linear(hidden_size, patch_dim)
        nn.init.normal_(self.mask_token, std=0.02)

    def forward(self, visible: torch.Tensor, visible_index: torch.Tensor) -> torch.Tensor:
        """
        Args:
            visible: ``[B, V, encoder_size]`` encoded visible tokens.
            visible_index: ``[B, V]`` their patch positions.

        Returns:
            ``[B, R, patch_dim]`` predictions for every patch.
        """
        x = self.embed(visible)
        b, num_patches, width = x.shape[0], self.position_embeddings.shape[1], x.shape[2]
        # the mask token in the visible tokens' dtype (bf16 under autocast), which scatter requires
        tokens = self.mask_token.to(x.dtype).expand(b, num_patches, width).clone()
        tokens.scatter_(1, visible_index[..., None].expand(-1, -1, width), x)
        tokens = tokens + self.position_embeddings
        for block in self.blocks:
            tokens = block(tokens)
        return self.pred(self.norm(tokens))


class MSFMImageEncoder(nn.Module):
    """2D ViT image encoder exposing region features, a global feature and an MAE path.

    The backbone is ``self.vit``, a :class:`monai.networks.nets.ViT` without classification token, so its
    ``state_dict`` loads as is into ``UNETR.vit`` (ViT-B/16 settings) and, with ``strict=False``, into a
    classification ``ViT`` (only ``cls_token`` and ``classification_head`` are new).

    Args:
        img_size: input size (square if an int).
        patch_size: patch size.
        in_channels: input channels (1 for radiographs).
        hidden_size: transformer width (768 for ViT-B).
        mlp_dim: MLP width (3072 for ViT-B).
        num_layers: depth (12 for ViT-B).
        num_heads: heads (12 for ViT-B).
        dropout_rate: dropout in the transformer.
        qkv_bias: bias of the qkv projection (False, as in MONAI's UNETR).
        decoder_hidden_size: MAE decoder width.
        decoder_mlp_dim: MAE decoder MLP width.
        decoder_num_layers: MAE decoder depth; 0 builds no decoder (no MAE path).
        decoder_num_heads: MAE decoder heads.
    """

    def __init__(
        self,
        img_size: Sequence[int] | int = 224,
        patch_size: int = 16,
        in_channels: int = 1,
        hidden_size: int = 768,
        mlp_dim: int = 3072,
        num_layers: int = 12,
        num_heads: int = 12,
        dropout_rate: float = 0.0,
        qkv_bias: bool = False,
        decoder_hidden_size: int = 512,
        decoder_mlp_dim: int = 2048,
        decoder_num_layers: int = 4,
        decoder_num_heads: int = 16,
    ) -> None:
        super().__init__()
        img_size = ensure_tuple_rep(img_size, 2)
        if any(s % patch_size for s in img_size):
            raise ValueError(f"img_size {img_size} must be a multiple of patch_size {patch_size}.")
        self.img_size = img_size
        self.patch_size = patch_size
        self.grid_size = tuple(s // patch_size for s in img_size)
        self.hidden_size = hidden_size
        self.vit = build_vit(
            in_channels, img_size, patch_size, hidden_size, mlp_dim, num_layers, num_heads, dropout_rate, qkv_bias
        )
        for block in self.vit.blocks:  # fused attention kernel; a runtime switch, the weights are unchanged
            block.attn.use_flash_attention = True
        self.decoder = (
            MaskedPatchDecoder(
                self.grid_size,
                hidden_size,
                decoder_hidden_size,
                decoder_mlp_dim,
                decoder_num_layers,
                decoder_num_heads,
                patch_size * patch_size * in_channels,
            )
            if decoder_num_layers > 0
            else None
        )

    @property
    def num_regions(self) -> int:
        """Number of patches ``R``."""
        return self.grid_size[0] * self.grid_size[1]

    def _encode_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        for block in self.vit.blocks:
            tokens = block(tokens)
        return self.vit.norm(tokens)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """
        Args:
            images: ``[B, C, H, W]``.

        Returns:
            ``[B, R, hidden_size]`` region (patch) features in row-major grid order; their mean is the global
            image feature.
        """
        return self._encode_tokens(self.vit.patch_embedding(images))

    def forward_masked(self, images: torch.Tensor, mask_ratio: float = 0.75) -> tuple[torch.Tensor, torch.Tensor]:
        """MAE path: encode a random subset of the patches, then predict the pixels of all of them.

        Args:
            images: ``[B, C, H, W]``.
            mask_ratio: share of patches hidden from the encoder.

        Returns:
            ``(pred [B, R, p·p·C], mask [B, R])`` with ``mask`` 1 on hidden patches.

        Raises:
            RuntimeError: when the encoder was built without a decoder.
        """
        if self.decoder is None:
            raise RuntimeError("this encoder has no MAE decoder (decoder_num_layers=0).")
        tokens = self.vit.patch_embedding(images)
        b, r, width = tokens.shape
        num_visible = max(1, round(r * (1.0 - mask_ratio)))
        visible_index = torch.rand(b, r, device=images.device).argsort(dim=1)[:, :num_visible]
        visible = torch.gather(tokens, 1, visible_index[..., None].expand(-1, -1, width))
        pred = self.decoder(self._encode_tokens(visible), visible_index)
        mask = torch.ones(b, r, device=images.device)
        mask.scatter_(1, visible_index, 0.0)
        return pred, mask
