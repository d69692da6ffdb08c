"""re_ranking against a dense transcription of the published algorithm."""

import numpy as np
import pytest
from reference import re_ranking_dense

from reidlib.eval import pairwise_distance, re_ranking


@pytest.mark.parametrize("num_q, num_g, dim, k1, k2, lam", [
    (20, 60, 16, 20, 6, 0.3),
    (15, 45, 8, 5, 1, 0.5),
    (10, 30, 32, 7, 3, 0.0),
    (5, 10, 4, 20, 6, 0.3),    # k1 + 1 larger than the whole set
    (12, 40, 16, 4, 9, 0.2),   # query expansion wider than the k-reciprocal sets
    (30, 90, 64, 11, 4, 0.7),  # odd k1: round(k1 / 2) rounds half to even
])
def test_matches_dense_algorithm(num_q, num_g, dim, k1, k2, lam):
    rng = np.random.default_rng(num_q * 100 + k1)
    # Clustered features, as a trained model gives, so k-reciprocal sets are non-trivial.
    centres = rng.normal(size=(8, dim))
    q = (centres[rng.integers(0, 8, num_q)] + 0.7 * rng.normal(size=(num_q, dim))).astype(np.float32)
    g = (centres[rng.integers(0, 8, num_g)] + 0.7 * rng.normal(size=(num_g, dim))).astype(np.float32)
    got = re_ranking(q, g, k1=k1, k2=k2, lambda_value=lam)
    want = re_ranking_dense(q, g, k1=k1, k2=k2, lambda_value=lam)
    assert got.shape == (num_q, num_g) and got.dtype == np.float32
    assert np.abs(got - want).max() <= 1e-5


def test_lambda_one_is_the_normalised_original_distance():
    rng = np.random.default_rng(0)
    q, g = rng.normal(size=(6, 5)), rng.normal(size=(9, 5))
    got = re_ranking(q, g, lambda_value=1.0)
    all_d = pairwise_distance(np.concatenate([q, g]), np.concatenate([q, g]), metric="sqeuclidean").numpy()
    want = all_d[:6, 6:] / all_d[:6].max(axis=1, keepdims=True)
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_several_blocks_give_the_same_result(monkeypatch):
    from reidlib.eval import rerank

    rng = np.random.default_rng(4)
    q, g = rng.normal(size=(25, 8)).astype(np.float32), rng.normal(size=(70, 8)).astype(np.float32)
    whole = re_ranking(q, g, k1=6, k2=3)
    monkeypatch.setattr(rerank, "_BLOCK", 16)
    monkeypatch.setattr(rerank, "_JOIN_PAIRS", 50)
    np.testing.assert_allclose(re_ranking(q, g, k1=6, k2=3), whole, atol=1e-6)


@pytest.mark.parametrize("kwargs, message", [
    (dict(k1=0), "k1 and k2"),
    (dict(lambda_value=1.5), "lambda_value"),
])
def test_bad_parameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        re_ranking(np.ones((2, 3)), np.ones((3, 3)), **kwargs)


def test_bad_features():
    with pytest.raises(ValueError, match="dimensions"):
        re_ranking(np.ones((2, 3)), np.ones((3, 4)))
    with pytest.raises(ValueError, match="NaN"):
        re_ranking(np.full((2, 3), np.nan), np.ones((3, 3)))
