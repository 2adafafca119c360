"""A tiny MSFMNet for fast tests."""

from __future__ import annotations

from msfm.networks import MSFMImageEncoder, MSFMNet, MSFMTextEncoder

VOCAB_SIZE = 40


def tiny_msfm_net(
    img_size=32,
    embed_dim: int = 16,
    center_regions: bool = True,
    report_pooling: str = "cls",
    isolate_sentences: bool = False,
    **kwargs,
) -> MSFMNet:
    image = MSFMImageEncoder(
        img_size=img_size,
        patch_size=16,
        hidden_size=32,
        mlp_dim=64,
        num_layers=1,
        num_heads=2,
        decoder_hidden_size=16,
        decoder_mlp_dim=32,
        decoder_num_layers=1,
        decoder_num_heads=2,
    )
    text = MSFMTextEncoder(
        vocab_size=VOCAB_SIZE,
        hidden_size=16,
        num_layers=1,
        num_heads=2,
        intermediate_size=32,
        max_length=10,
        max_sentences=3,
        mask_token_id=4,
        dropout=0.0,
        report_pooling=report_pooling,
        isolate_sentences=isolate_sentences,
    )
    return MSFMNet(
        image,
        text,
        embed_dim=embed_dim,
        itm_hidden_dim=embed_dim,
        center_regions=center_regions,
        **kwargs,
    )
