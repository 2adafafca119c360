from __future__ import annotations

import pytest
import torch

from msfm.networks import ViTClassifier, ViTSegmentationNet, load_pretrained_vit
from tests.networks.tiny import tiny_msfm_net

ENCODER = {"img_size": 32, "hidden_size": 32, "mlp_dim": 64, "num_heads": 2}


@pytest.fixture
def pretrained(tmp_path):
    net = tiny_msfm_net(img_size=32)
    path = tmp_path / "model.pt"
    torch.save({"model": net.state_dict()}, path)
    return net, path


def _deep(net):  # tiny_msfm_net has one layer; downstream nets here use 4
    return {k: v for k, v in net.state_dict().items() if k.startswith("image_encoder.vit.")}


@pytest.mark.parametrize("linear_probe", [False, True])
def test_classifier_loads_pretrained_vit_and_trains_what_it_should(pretrained, linear_probe):
    net, path = pretrained
    classifier = ViTClassifier(3, num_layers=1, linear_probe=linear_probe, pretrained_checkpoint=path, **ENCODER)
    for key, value in _deep(net).items():
        assert torch.equal(classifier.vit.state_dict()[key.removeprefix("image_encoder.vit.")], value)
    images = torch.randn(2, 1, 32, 32)
    classifier.train()
    expected = net.image_encoder.eval()(images).mean(dim=1)
    tokens, _ = classifier.vit(images)
    assert torch.allclose(tokens.mean(dim=1), expected, atol=1e-5)  # the same features as in pretraining
    classifier(images).sum().backward()
    assert classifier.head.weight.grad is not None
    assert (classifier.vit.patch_embedding.patch_embeddings.weight.grad is None) == linear_probe
    assert classifier.vit.training is not linear_probe


def test_wrong_architecture_names_the_checkpoint(pretrained, tmp_path):
    _, path = pretrained
    with pytest.raises(ValueError, match="model.pt does not fit"):
        load_pretrained_vit(ViTClassifier(3, num_layers=2, **ENCODER).vit, path)
    with pytest.raises(FileNotFoundError, match="run the pretraining"):
        load_pretrained_vit(ViTClassifier(3, num_layers=1, **ENCODER).vit, tmp_path / "none.pt")
    torch.save({"model": {"other.weight": torch.zeros(1)}}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="no 'image_encoder.vit"):
        load_pretrained_vit(ViTClassifier(3, num_layers=1, **ENCODER).vit, tmp_path / "other.pt")


def test_segmentation_net_starts_from_the_pretrained_vit(pretrained, tmp_path):
    _, one_layer = pretrained
    with pytest.raises(ValueError, match="model.pt does not fit"):  # a 1-layer encoder into a 4-layer ViT
        ViTSegmentationNet(num_layers=4, feature_size=8, pretrained_checkpoint=one_layer, **ENCODER)
    source = ViTSegmentationNet(num_layers=4, feature_size=8, **ENCODER).vit.state_dict()
    torch.save({"model": {f"image_encoder.vit.{k}": v for k, v in source.items()}}, tmp_path / "four.pt")
    seg = ViTSegmentationNet(num_layers=4, feature_size=8, pretrained_checkpoint=tmp_path / "four.pt", **ENCODER)
    assert all(torch.equal(seg.vit.state_dict()[k], v) for k, v in source.items())


@pytest.mark.parametrize("num_layers,skips", [(4, [1, 2, 3]), (12, [3, 6, 9]), (8, [2, 4, 6])])
def test_segmentation_net_taps_and_shapes(num_layers, skips):
    net = ViTSegmentationNet(num_layers=num_layers, feature_size=8, **ENCODER).eval()
    assert net.skip_layers == skips and len(net.vit.blocks) == num_layers
    images = torch.randn(2, 1, 32, 32)
    assert net(images).shape == (2, 1, 32, 32)


@pytest.mark.parametrize("input_skip", [True, False])
def test_segmentation_masks_see_the_pixels_only_through_the_vit_without_input_skip(input_skip, monkeypatch):
    net = ViTSegmentationNet(num_layers=4, feature_size=8, input_skip=input_skip, **ENCODER).eval()
    assert hasattr(net, "encoder1") == input_skip
    features = net.vit(torch.randn(1, 1, 32, 32))
    monkeypatch.setattr(net.vit, "forward", lambda images: features)  # the same ViT output for any image
    first, second = net(torch.randn(1, 1, 32, 32)), net(torch.randn(1, 1, 32, 32))
    assert torch.equal(first, second) != input_skip


def test_segmentation_input_skip_must_be_a_bool():
    with pytest.raises(TypeError, match="input_skip must be True or False, got 'false'"):
        ViTSegmentationNet(num_layers=4, feature_size=8, input_skip="false", **ENCODER)


def test_segmentation_with_vit_b_settings_is_unetr():
    from monai.networks.nets import UNETR

    net = ViTSegmentationNet(img_size=32, feature_size=8)
    reference = UNETR(1, 1, 32, feature_size=8, spatial_dims=2, norm_name="instance")
    assert net.state_dict().keys() == reference.state_dict().keys()
    reference.load_state_dict(net.state_dict())
    images = torch.randn(1, 1, 32, 32)
    assert torch.allclose(net.eval()(images), reference.eval()(images), atol=1e-6)


@pytest.mark.parametrize(
    "make",
    [
        lambda: ViTClassifier(2, num_layers=1, **ENCODER),
        lambda: ViTSegmentationNet(num_layers=4, feature_size=8, **ENCODER),
        lambda: ViTSegmentationNet(num_layers=4, feature_size=8, input_skip=False, **ENCODER),
    ],
)
def test_torchscript_matches(make):
    net = make().eval()
    images = torch.randn(2, 1, 32, 32)
    scripted = torch.jit.script(net)
    assert torch.allclose(scripted(images), net(images), atol=1e-5)
