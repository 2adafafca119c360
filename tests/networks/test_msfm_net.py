from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from tests.networks.tiny import tiny_msfm_net


@pytest.fixture
def net():
    return tiny_msfm_net(img_size=(32, 48), embed_dim=8).eval()


def text_batch(size=3, length=10):
    ids = torch.randint(5, 40, (size, length))
    sentence_index = torch.full((size, length), -1)
    sentence_index[:, 1:6] = 0
    return ids, torch.ones_like(ids), sentence_index


def test_training_outputs(net):
    ids, attention, sentence_index = text_batch()
    images = torch.randn(3, 1, 32, 48)
    outputs = net.train()(images, ids, attention, sentence_index, reconstruction=True, matching=True)
    assert outputs["image_emb"].shape == outputs["text_emb"].shape == (3, 8)
    assert outputs["region_emb"].shape == (3, 6, 8) and outputs["sentence_emb"].shape == (3, 3, 8)
    assert outputs["mae_pred"].shape == outputs["mae_target"].shape == (3, 6, 256)
    assert outputs["mlm_logits"].shape == (len(outputs["mlm_labels"]), 40)
    assert outputs["itm_logits"].shape == outputs["itm_targets"].shape == outputs["itm_weights"].shape == (9,)
    assert outputs["itm_targets"].tolist() == [1.0] * 3 + [0.0] * 6
    assert outputs["logit_scale"].item() == pytest.approx(1 / 0.07, rel=1e-5)
    plain = net.eval()(images, ids, attention, sentence_index)
    assert "mae_pred" not in plain and "itm_logits" not in plain


def test_the_network_owns_the_temperature_and_the_matching_head():
    learnable = tiny_msfm_net(temperature=0.07)
    state = learnable.state_dict()
    assert "log_logit_scale" in state and any(k.startswith("itm_head.") for k in state)
    assert "log_logit_scale" in dict(learnable.named_parameters())
    fixed = tiny_msfm_net(temperature=0.5, learnable_temperature=False)
    assert "log_logit_scale" not in dict(fixed.named_parameters()) and "log_logit_scale" in fixed.state_dict()
    assert fixed.logit_scale.item() == pytest.approx(2.0)
    capped = tiny_msfm_net(temperature=0.001, max_logit_scale=100.0)
    assert capped.logit_scale.item() == pytest.approx(100.0)
    with pytest.raises(ValueError, match="temperature"):
        tiny_msfm_net(temperature=0.0)


@pytest.mark.parametrize("report_pooling", ["cls", "mean"])
def test_inference_methods_agree_with_forward(report_pooling):
    net = tiny_msfm_net(img_size=(32, 48), embed_dim=8, report_pooling=report_pooling).eval()
    images = torch.randn(3, 1, 32, 48)
    ids, attention, sentence_index = text_batch()
    attention[0, 7:] = 0
    with torch.no_grad():
        outputs = net(images, ids, attention, sentence_index)
        image_emb, text_emb = net.encode_image(images), net.encode_text(ids, attention)
        assert torch.allclose(image_emb, F.normalize(outputs["image_emb"], dim=-1), atol=1e-6)
        assert torch.allclose(text_emb, F.normalize(outputs["text_emb"], dim=-1), atol=1e-6)
        assert torch.allclose(image_emb.norm(dim=-1), torch.ones(3))
        scores = net.match_score(images, ids, attention)
        assert scores.shape == (3,) and ((scores > 0) & (scores < 1)).all()


def test_similarity_map_is_the_phrase_patch_cosine(net):
    images = torch.randn(2, 1, 32, 48)
    ids, attention, sentence_index = text_batch(2)
    with torch.no_grad():
        maps = net.similarity_map(images, ids, attention, sentence_index)
        outputs = net(images, ids, attention, sentence_index)
    assert maps.shape == (2, 2, 3)  # the 2 x 3 patch grid, rows first
    regions = F.normalize(outputs["region_emb"], dim=-1)
    phrase = F.normalize(outputs["sentence_emb"][:, 0], dim=-1)
    expected = torch.einsum("brd,bd->br", regions, phrase).reshape(2, 2, 3)
    assert torch.allclose(maps, expected, atol=1e-5)
    assert maps.abs().max() <= 1 + 1e-6


def test_global_space_map_patches_average_to_the_global_term_when_the_head_is_linear(net):
    """Through a linear projection the mean patch embedding is the global image embedding, so the map's
    mean (before normalising) scores the phrase as a report against the whole image."""
    net.image_proj.net[1] = torch.nn.Identity()  # Linear → Linear: a linear head
    images = torch.randn(2, 1, 32, 48)
    ids, attention, sentence_index = text_batch(2)
    with torch.no_grad():
        maps = net.similarity_map(images, ids, attention, sentence_index, space="global")
        patches = net.image_proj(net.image_encoder(images))
        phrase = net.encode_text(ids, attention)
    assert maps.shape == (2, 2, 3)
    cosine = torch.einsum("brd,bd->br", F.normalize(patches, dim=-1), phrase).reshape(2, 2, 3)
    assert torch.allclose(maps, cosine, atol=1e-5)
    assert torch.allclose(patches.mean(dim=1), net.image_proj(net.image_encoder(images).mean(dim=1)), atol=1e-5)
    with pytest.raises(ValueError, match="space must be"):
        net.similarity_map(images, ids, attention, sentence_index, space="regions")


@pytest.mark.parametrize("center_regions", [True, False])
def test_region_embeddings_are_centred_on_their_image_mean(center_regions):
    net = tiny_msfm_net(img_size=(32, 48), embed_dim=8, center_regions=center_regions).eval()
    images = torch.randn(2, 1, 32, 48)
    with torch.no_grad():
        regions = net(images, *text_batch(2))["region_emb"]
        projected = net.region_proj(net.image_encoder(images))
    expected = projected - projected.mean(dim=1, keepdim=True) if center_regions else projected
    assert torch.allclose(regions, expected, atol=1e-6)
    assert torch.allclose(regions.mean(dim=1), torch.zeros(2, 8), atol=1e-6) == center_regions


def test_position_centring_uses_the_batch_in_training_and_its_running_mean_in_evaluation():
    net = tiny_msfm_net(img_size=(32, 48), embed_dim=8, center_regions=False, center_positions=True)
    net.position_momentum = 1.0  # the running mean becomes the last batch's
    images = torch.randn(3, 1, 32, 48)
    projected = net.region_proj(net.image_encoder.eval()(images)).detach()
    net.train().image_encoder.eval()  # no dropout, so both passes see the same tokens
    trained = net.region_embeddings(net.image_encoder(images)).detach()
    assert torch.allclose(trained, projected - projected.mean(dim=0), atol=1e-5)
    assert torch.allclose(trained.mean(dim=0), torch.zeros(6, 8), atol=1e-5)  # no place is hot in every film
    assert torch.allclose(net.region_position_mean, projected.mean(dim=0), atol=1e-5)
    single = net.eval().region_embeddings(net.image_encoder(images[:1])).detach()
    assert torch.allclose(single, trained[:1], atol=1e-5)  # one image in evaluation, as in its training batch
    assert "region_position_mean" in net.state_dict()
    assert "region_position_mean" not in tiny_msfm_net().state_dict()


def test_isolated_sentences_give_grounding_the_local_terms_sentence_embedding():
    """With ``isolate_sentences`` a phrase embedded alone (grounding, local zero-shot) is the embedding the local
    term gave the same sentence inside its report; every text path takes the sentence index."""
    torch.manual_seed(0)
    net = tiny_msfm_net(img_size=(32, 48), embed_dim=8, isolate_sentences=True).eval()
    report = torch.tensor([[2, 7, 8, 9, 10, 11, 3]])
    report_index = torch.tensor([[-1, 0, 0, 0, 1, 1, -1]])
    phrase = torch.tensor([[2, 10, 11, 3]])
    phrase_index = torch.tensor([[-1, 0, 0, -1]])
    images = torch.randn(1, 1, 32, 48)
    with torch.no_grad():
        in_report = net(images, report, torch.ones_like(report), report_index)["sentence_emb"][0, 1]
        alone = net.encode_phrase(phrase, torch.ones_like(phrase), phrase_index)[0]
        assert torch.allclose(F.normalize(in_report, dim=0), alone, atol=1e-5)
        assert net.match_score(images, phrase, torch.ones_like(phrase), phrase_index).shape == (1,)
        global_map = net.similarity_map(images, phrase, torch.ones_like(phrase), phrase_index, space="global")
        assert global_map.shape == (1, 2, 3)
    with pytest.raises(ValueError, match="sentence_index"):
        net.encode_text(phrase, torch.ones_like(phrase))
