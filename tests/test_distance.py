import numpy as np
import pytest
import torch

from reidlib.eval import iter_distance_chunks, pairwise_distance


@pytest.fixture
def feats():
    gen = torch.Generator().manual_seed(0)
    return torch.randn(37, 12, generator=gen), torch.randn(53, 12, generator=gen)


def test_metrics_match_torch(feats):
    q, g = feats
    np.testing.assert_allclose(pairwise_distance(q, g, "euclidean"), torch.cdist(q, g), atol=1e-4)
    np.testing.assert_allclose(pairwise_distance(q, g, "sqeuclidean"), torch.cdist(q, g) ** 2, atol=1e-3)
    cos = 1 - torch.nn.functional.normalize(q) @ torch.nn.functional.normalize(g).T
    np.testing.assert_allclose(pairwise_distance(q, g, "cosine"), cos, atol=1e-6)


def test_identical_vectors_are_at_distance_zero(feats):
    q, _ = feats
    # The |q|^2 + |g|^2 - 2 q.g form leaves a float32 residue (~1e-6) whose square root is ~1e-3,
    # against typical distances of ~5 here.
    assert pairwise_distance(q, q).diagonal().abs().max() < 5e-3
    assert pairwise_distance(q, q, "sqeuclidean").min() >= 0  # no negative rounding residue


def test_chunks_cover_the_matrix_and_bound_memory(feats):
    q, g = feats
    blocks = list(iter_distance_chunks(q, g, chunk_bytes=4 * 8 * (53 + 12) * 2))
    assert len(blocks) == 5 and all(b.shape[0] <= 8 for _, b in blocks)
    whole = pairwise_distance(q, g)
    np.testing.assert_allclose(pairwise_distance(q, g, chunk_bytes=1), whole, rtol=1e-5)  # other BLAS blocking
    np.testing.assert_allclose(torch.cat([b for _, b in blocks]), whole, rtol=1e-5)


def test_accepts_numpy_and_returns_float32(feats):
    q, g = feats
    d = pairwise_distance(q.double().numpy(), g.double().numpy())
    assert d.dtype == torch.float32 and d.shape == (37, 53)


@pytest.mark.parametrize("q, g, message", [
    (np.ones((2, 3)), np.ones((2, 4)), "dimensions"),
    (np.ones(3), np.ones((2, 3)), "2-D"),
    (np.ones((0, 3)), np.ones((2, 3)), "empty"),
    (np.array([[1.0, np.nan]]), np.ones((2, 2)), "NaN"),
    (np.ones((2, 2)), np.array([[np.inf, 1.0]]), "NaN or infinite"),
])
def test_bad_features(q, g, message):
    with pytest.raises(ValueError, match=message):
        pairwise_distance(q, g)


def test_unknown_metric(feats):
    with pytest.raises(ValueError, match="unknown metric"):
        pairwise_distance(*feats, metric="manhattan")
