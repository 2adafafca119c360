from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from msfm.metrics import RetrievalRecallMetric, retrieval_recall


def naive_recall(image, text, k):
    n = image.shape[0]
    sim = [[float(F.cosine_similarity(image[i], text[j], dim=0)) for j in range(n)] for i in range(n)]
    i2t = sum(sum(sim[i][j] >= sim[i][i] for j in range(n) if j != i) < k for i in range(n)) / n
    t2i = sum(sum(sim[j][i] >= sim[i][i] for j in range(n) if j != i) < k for i in range(n)) / n
    return i2t, t2i


@pytest.mark.parametrize("n,dim,k", [(10, 4, 1), (25, 8, 5), (30, 3, 10)])
def test_matches_loop_reference(n, dim, k):
    text = torch.randn(n, dim)
    image = text + torch.randn(n, dim)
    result = retrieval_recall(image, text, ks=[k])
    i2t, t2i = naive_recall(image, text, k)
    assert result[f"i2t_R{k}"] == pytest.approx(i2t)
    assert result[f"t2i_R{k}"] == pytest.approx(t2i)


def test_perfect_collapsed_and_cumulative():
    x = torch.eye(6)
    assert retrieval_recall(x, x, ks=[1]) == {"i2t_R1": 1.0, "t2i_R1": 1.0}
    collapsed = torch.ones(6, 3)
    assert retrieval_recall(collapsed, collapsed, ks=[1])["i2t_R1"] == 0.0  # ties count against the model

    text = torch.randn(20, 5)
    image = text + 0.8 * torch.randn(20, 5)
    metric = RetrievalRecallMetric(k=5, direction="text_to_image")
    metric(image[:7], text[:7])
    metric(image[7:], text[7:])
    assert metric.aggregate().item() == pytest.approx(retrieval_recall(image, text, ks=[5])["t2i_R5"])
    with pytest.raises(ValueError, match="direction"):
        RetrievalRecallMetric(direction="sideways")


def test_several_k_average_their_recalls():
    text = torch.randn(40, 6)
    image = text + torch.randn(40, 6)
    metric = RetrievalRecallMetric(k=(1, 5, 10), direction="mean")
    metric(image, text)
    recall = retrieval_recall(image, text, ks=(1, 5, 10))
    assert metric.aggregate().item() == pytest.approx(sum(recall.values()) / 6)
    with pytest.raises(ValueError, match="positive"):
        RetrievalRecallMetric(k=(0, 5))


def test_finding_precision_counts_reports_with_the_same_findings():
    """Four pairs, two normal and two with effusion: image 0 retrieves the other normal report first, a miss for
    exact-pair recall but a hit for finding-aware precision."""
    from msfm.metrics import finding_precision

    image = torch.tensor([[1.0, 0.0], [1.0, 0.1], [0.0, 1.0], [0.1, 1.0]])
    text = torch.tensor([[1.0, 0.2], [1.0, 0.0], [0.1, 1.0], [0.0, 1.0]])  # each image's best match is its twin's
    findings = [[], [], ["effusion"], ["effusion"]]
    assert retrieval_recall(image, text, ks=(1,))["i2t_R1"] < 1.0
    assert finding_precision(image, text, findings, ks=(1, 2)) == {"i2t_P1": 1.0, "t2i_P1": 1.0, "i2t_P2": 1.0, "t2i_P2": 1.0}
    shuffled = finding_precision(image, text.flip(0), findings, ks=(1,))
    assert shuffled == {"i2t_P1": 0.0, "t2i_P1": 0.0}
    with pytest.raises(ValueError, match="3 finding sets for 4 pairs"):
        finding_precision(image, text, findings[:3])
