"""Downstream networks built around the pretrained ViT."""

from __future__ import annotations

import os
from collections.abc import Sequence

import torch
from monai.networks.blocks import UnetResBlock
from monai.networks.blocks.dynunet_block import get_conv_layer
from monai.networks.nets import UNETR
from torch import nn

from msfm.networks.checkpoints import load_pretrained_vit
from msfm.networks.image_encoder import build_vit, freeze_unused_cross_attention_norms
from msfm.settings import require_flag

__all__ = ["ViTClassifier", "ViTSegmentationNet"]

class ViTClassifier(nn.Module):
    """The pretrained ViT with a linear head on its mean patch feature (the pretraining's global image feature).

    Args:
        num_classes: outputs (logits; one per label of a multi-label task).
        img_size: input size.
        patch_size: patch size.
        in_channels: input channels.
        hidden_size: ViT width.
        mlp_dim: ViT MLP width.
        num_layers: ViT depth.
        num_heads: ViT heads.
        dropout_rate: dropout in the ViT and before the head.
        qkv_bias: qkv bias (as in pretraining).
        linear_probe: freeze the ViT and train only the head.
        pretrained_checkpoint: an msfm pretraining checkpoint whose image encoder initialises the ViT (see
            :func:`msfm.networks.load_pretrained_vit`); None keeps the random initialisation.
    """

    def __init__(
        self,
        num_classes: int,
        img_size: Sequence[int] | int = 224,
        patch_size: int = 16,
        in_channels: int = 1,
        hidden_size: int = 768,
        mlp_dim: int = 3072,
        num_layers: int = 12,
        num_heads: int = 12,
        dropout_rate: float = 0.0,
        qkv_bias: bool = False,
        linear_probe: bool = False,
        pretrained_checkpoint: str | os.PathLike | None = None,
    ) -> None:
        super().__init__()
        self.vit = build_vit(
            in_channels, img_size, patch_size, hidden_size, mlp_dim, num_layers, num_heads, dropout_rate, qkv_bias
        )
        load_pretrained_vit(self.vit, pretrained_checkpoint)
        self.dropout = nn.Dropout(dropout_rate)
        self.head = nn.Linear(hidden_size, num_classes)
        self.linear_probe = linear_probe
        if linear_probe:
            self.vit.requires_grad_(False)

    def train(self, mode: bool = True) -> ViTClassifier:
        super().train(mode)
        if self.linear_probe:  # a frozen encoder also keeps its inference behaviour (dropout off)
            self.vit.eval()
        return self

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """``[B, C, H, W]`` → logits ``[B, num_classes]``."""
        tokens, _ = self.vit(images)
        return self.head(self.dropout(tokens.mean(dim=1)))


class ViTSegmentationNet(UNETR):
    """MONAI's 2D UNETR whose ViT may have any depth, so the decoder fits encoders smaller than ViT-B.

    With ``num_layers=12``, the default skips and ``input_skip=True`` this *is* UNETR (hidden states 3, 6 and 9
    feed the decoder); otherwise the skips default to layers ``L/4, L/2, 3L/4``. The patch size is 16 (UNETR's
    four 2× stages).

    UNETR's input skip is a convolutional block on the full-resolution image, joined at the last decoder stage.
    On a target that shows in the raw intensities it can draw the mask without the encoder's help; with
    ``input_skip=False`` the last stage upsamples without it, so every mask comes from the ViT's features.

    Args:
        out_channels: output channels (1: logits of the foreground).
        img_size: input size, a multiple of 16.
        in_channels: input channels.
        feature_size: decoder width (UNETR's).
        hidden_size: ViT width.
        mlp_dim: ViT MLP width.
        num_layers: ViT depth (at least 4).
        num_heads: ViT heads.
        skip_layers: the three hidden states that feed the decoder's skip paths.
        norm_name: decoder normalisation.
        dropout_rate: dropout in the ViT.
        qkv_bias: qkv bias (as in pretraining).
        input_skip: keep UNETR's convolutional skip from the input image.
        pretrained_checkpoint: an msfm pretraining checkpoint whose image encoder initialises the ViT (see
            :func:`msfm.networks.load_pretrained_vit`); None keeps the random initialisation.

    Raises:
        ValueError: for fewer than 4 layers or skips outside the ViT.
        TypeError: when ``input_skip`` is not a bool (a command-line ``false`` arrives as a string).
    """

    __constants__ = ("input_skip",)  # TorchScript compiles only the branch this flag selects

    def __init__(
        self,
        out_channels: int = 1,
        img_size: Sequence[int] | int = 224,
        in_channels: int = 1,
        feature_size: int = 16,
        hidden_size: int = 768,
        mlp_dim: int = 3072,
        num_layers: int = 12,
        num_heads: int = 12,
        skip_layers: Sequence[int] | None = None,
        norm_name: tuple | str = "instance",
        dropout_rate: float = 0.0,
        qkv_bias: bool = False,
        input_skip: bool = True,
        pretrained_checkpoint: str | os.PathLike | None = None,
    ) -> None:
        super().__init__(
            in_channels=in_channels,
            out_channels=out_channels,
            img_size=img_size,
            feature_size=feature_size,
            hidden_size=hidden_size,
            mlp_dim=mlp_dim,
            num_heads=num_heads,
            norm_name=norm_name,
            dropout_rate=dropout_rate,
            spatial_dims=2,
            qkv_bias=qkv_bias,
        )
        if num_layers < 4:
            raise ValueError(f"num_layers must be at least 4, got {num_layers}.")
        skips = list(skip_layers) if skip_layers is not None else [num_layers // 4, num_layers // 2, 3 * num_layers // 4]
        if len(skips) != 3 or not all(0 <= s < num_layers for s in skips):
            raise ValueError(f"skip_layers must be three layer indices below {num_layers}, got {skips}.")
        self.skip_layers = skips
        self.input_skip = require_flag(input_skip, "input_skip")
        if not self.input_skip:
            del self.encoder1
            self.decoder2 = nn.Sequential(
                get_conv_layer(2, feature_size * 2, feature_size, kernel_size=2, stride=2, conv_only=True, is_transposed=True),
                UnetResBlock(2, feature_size, feature_size, kernel_size=3, stride=1, norm_name=norm_name),
            )
        if num_layers != 12:
            self.vit = build_vit(in_channels, img_size, 16, hidden_size, mlp_dim, num_layers, num_heads, dropout_rate, qkv_bias)
        else:
            freeze_unused_cross_attention_norms(self.vit.blocks)
        load_pretrained_vit(self.vit, pretrained_checkpoint)

    def forward(self, x_in: torch.Tensor) -> torch.Tensor:
        """``[B, C, H, W]`` → logits ``[B, out_channels, H, W]``."""
        x, hidden_states_out = self.vit(x_in)
        enc2 = self.encoder2(self.proj_feat(hidden_states_out[self.skip_layers[0]]))
        enc3 = self.encoder3(self.proj_feat(hidden_states_out[self.skip_layers[1]]))
        enc4 = self.encoder4(self.proj_feat(hidden_states_out[self.skip_layers[2]]))
        dec3 = self.decoder5(self.proj_feat(x), enc4)
        dec2 = self.decoder4(dec3, enc3)
        dec1 = self.decoder3(dec2, enc2)
        if self.input_skip:
            return self.out(self.decoder2(dec1, self.encoder1(x_in)))
        return self.out(self.decoder2(dec1))
