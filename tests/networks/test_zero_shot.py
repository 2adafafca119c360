from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from msfm.losses import local_alignment_scores
from msfm.networks import ZeroShotClassifier, attended_cosine, prompt_prototypes, zero_shot_classifier
from tests.networks.tiny import tiny_msfm_net

PROMPTS = {"positive": ["Findings consistent with pneumonia.", "Right lower lobe opacity."],
           "negative": ["No pneumonia.", "Lungs are clear."]}


class CharTokenizer:
    """Enough of a ``transformers`` tokenizer for :func:`msfm.data.tokenize_sentences`: one id per character."""

    cls_token_id, sep_token_id, pad_token_id = 2, 3, 0

    def __call__(self, texts, add_special_tokens=False):
        return {"input_ids": [[5 + ord(c) % 30 for c in text] for text in texts]}


@pytest.fixture
def net():
    torch.manual_seed(0)
    network = tiny_msfm_net(img_size=(32, 48), embed_dim=8, center_positions=True).eval()
    network.region_position_mean.normal_()
    return network


def test_attended_cosine_is_the_local_term_score_of_a_one_sentence_report():
    regions, phrases = torch.randn(3, 6, 8), torch.randn(4, 8)
    expected = local_alignment_scores(regions, phrases[:, None], torch.ones(4, 1, dtype=torch.bool), gamma1=4.0)
    assert torch.allclose(attended_cosine(regions, phrases, gamma1=4.0), expected, atol=1e-5)
    # a sharp attention picks the best-matching region
    assert torch.allclose(attended_cosine(regions, phrases, gamma1=1e4),
                          (F.normalize(regions, dim=-1) @ F.normalize(phrases, dim=-1).t()).amax(dim=1), atol=1e-4)


def test_local_prototypes_embed_prompts_as_phrases(net):
    tokenizer = CharTokenizer()
    local = prompt_prototypes(net, tokenizer, PROMPTS, max_length=10, space="local")
    global_ = prompt_prototypes(net, tokenizer, PROMPTS, max_length=10)
    assert local.shape == global_.shape == (2, 8) and not torch.allclose(local, global_)
    with pytest.raises(ValueError, match="space must be"):
        prompt_prototypes(net, tokenizer, PROMPTS, space="regions")


def test_global_prototypes_pass_the_sentence_index_to_an_isolating_text_encoder():
    torch.manual_seed(0)
    net = tiny_msfm_net(img_size=(32, 48), embed_dim=8, isolate_sentences=True).eval()
    assert prompt_prototypes(net, CharTokenizer(), PROMPTS, max_length=10).shape == (2, 8)


@pytest.mark.parametrize("scoring", ["global", "local", "both"])
def test_classifier_scores_with_the_networks_embeddings_and_scripts(net, scoring):
    classifier = zero_shot_classifier(net, CharTokenizer(), PROMPTS, max_length=10, scoring=scoring).eval()
    images = torch.randn(3, 1, 32, 48)
    with torch.no_grad():
        tokens = net.image_encoder(images)
        global_scores = net.encode_image(images) @ classifier.prototypes.t()
        local_scores = attended_cosine(net.region_embeddings(tokens), classifier.phrase_prototypes) \
            if scoring != "global" else torch.zeros(3, 2)
        scores = {"global": global_scores, "local": local_scores, "both": global_scores + local_scores}[scoring]
        probability = classifier(images)
    assert probability.shape == (3, 1)
    assert torch.allclose(probability[:, 0], scores.softmax(dim=1)[:, 0], atol=1e-5)
    standalone = ZeroShotClassifier(net.image_encoder, 8, scoring=scoring, center_positions=True).eval()
    standalone.load_state_dict(classifier.state_dict())
    assert torch.allclose(torch.jit.script(standalone)(images), probability, atol=1e-5)


def test_unknown_scoring_is_an_error(net):
    with pytest.raises(ValueError, match="scoring must be one of"):
        ZeroShotClassifier(net.image_encoder, 8, scoring="regions")
