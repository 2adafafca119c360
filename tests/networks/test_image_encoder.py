from __future__ import annotations

import pytest
import torch
from monai.networks.nets import UNETR, ViT

from msfm.networks import MSFMImageEncoder, patchify

TINY = {
    "hidden_size": 32,
    "mlp_dim": 64,
    "num_layers": 2,
    "num_heads": 4,
    "decoder_hidden_size": 16,
    "decoder_mlp_dim": 32,
    "decoder_num_layers": 1,
    "decoder_num_heads": 2,
}


@pytest.mark.parametrize("img_size,grid", [(32, (2, 2)), ((48, 64), (3, 4))])
def test_shapes(img_size, grid):
    encoder = MSFMImageEncoder(img_size=img_size, patch_size=16, **TINY)
    size = (img_size, img_size) if isinstance(img_size, int) else img_size
    images = torch.randn(3, 1, *size)
    assert encoder(images).shape == (3, grid[0] * grid[1], 32)
    pred, mask = encoder.forward_masked(images, mask_ratio=0.75)
    assert pred.shape == (3, grid[0] * grid[1], 256)
    assert mask.shape == (3, grid[0] * grid[1])
    assert int(mask.sum(1)[0]) == grid[0] * grid[1] - max(1, round(grid[0] * grid[1] * 0.25))


def test_patchify_matches_the_patch_embedding_order():
    """Patch r of patchify is the patch that the conv embedding puts at token r."""
    encoder = MSFMImageEncoder(img_size=(32, 48), patch_size=16, **TINY)
    images = torch.randn(2, 1, 32, 48)
    conv = encoder.vit.patch_embedding.patch_embeddings
    tokens = conv(images).flatten(2).transpose(1, 2)
    weight = conv.weight.reshape(conv.weight.shape[0], -1)  # [hidden, C*p*p], (c, y, x) order
    patches = patchify(images, 16)  # (y, x, c) order; C = 1 so both orders agree
    assert torch.allclose(tokens, patches @ weight.t() + conv.bias, atol=1e-5)


def test_visible_only_encoding_uses_the_backbone():
    """With nothing masked the MAE path encodes the same tokens as the plain forward (up to order)."""
    encoder = MSFMImageEncoder(img_size=32, patch_size=16, **TINY).eval()
    images = torch.randn(2, 1, 32, 32)
    with torch.no_grad():
        tokens = encoder.vit.patch_embedding(images)
        index = torch.rand(2, 4).argsort(1)
        shuffled = torch.gather(tokens, 1, index[..., None].expand(-1, -1, 32))
        # self-attention without positional change is permutation-equivariant
        assert torch.allclose(
            torch.gather(encoder(images), 1, index[..., None].expand(-1, -1, 32)),
            encoder._encode_tokens(shuffled),
            atol=1e-5,
        )


def test_weights_load_into_unetr_and_vit_classifier():
    settings = {"hidden_size": 48, "mlp_dim": 96, "num_heads": 4}
    encoder = MSFMImageEncoder(img_size=32, patch_size=16, num_layers=12, decoder_num_layers=0, **settings)
    weights = encoder.vit.state_dict()

    unetr = UNETR(in_channels=1, out_channels=2, img_size=(32, 32), spatial_dims=2, feature_size=8, **settings)
    unetr.vit.load_state_dict(weights, strict=True)
    assert torch.equal(unetr.vit.blocks[11].mlp.linear1.weight, encoder.vit.blocks[11].mlp.linear1.weight)

    classifier = ViT(
        in_channels=1,
        img_size=(32, 32),
        patch_size=16,
        num_layers=12,
        classification=True,
        num_classes=3,
        spatial_dims=2,
        **settings,
    )
    result = classifier.load_state_dict(weights, strict=False)
    assert result.unexpected_keys == []
    assert sorted(result.missing_keys) == ["classification_head.0.bias", "classification_head.0.weight", "cls_token"]


def test_bad_sizes():
    with pytest.raises(ValueError, match="multiple of patch_size"):
        MSFMImageEncoder(img_size=40, patch_size=16, **TINY)
    encoder = MSFMImageEncoder(img_size=32, patch_size=16, **{**TINY, "decoder_num_layers": 0})
    with pytest.raises(RuntimeError, match="no MAE decoder"):
        encoder.forward_masked(torch.randn(1, 1, 32, 32))
