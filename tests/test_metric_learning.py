import itertools

import numpy as np
import pytest

from reidlib.eval import evaluate_rank, fit_kissme, fit_xqda, pairwise_distance
from reidlib.eval.metric_learning import _pair_covariances


def test_pair_covariances_equal_explicit_pair_enumeration():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(12, 3)), rng.integers(0, 4, 12)
    intra, extra = [], []
    for i, j in itertools.combinations(range(12), 2):
        d = np.outer(x[i] - x[j], x[i] - x[j])
        (intra if y[i] == y[j] else extra).append(d)
    got_in, got_ex = _pair_covariances(x, y)
    np.testing.assert_allclose(got_in, np.mean(intra, 0))
    np.testing.assert_allclose(got_ex, np.mean(extra, 0))


def nuisance_data(seed=0):
    """Identity signal in 16 dimensions, plus one dimension of large identity-free noise."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(40, 16))

    def draw(ids):
        x = centres[ids] + 0.8 * rng.normal(size=(len(ids), 16))
        x[:, 0] += 10 * rng.normal(size=len(ids))
        return x

    train_ids = np.repeat(np.arange(40), 5)
    test_ids = np.repeat(np.arange(40), 2)
    return draw(train_ids), train_ids, draw(test_ids), draw(test_ids), test_ids


@pytest.mark.parametrize("fit", [lambda x, y: fit_kissme(x, y, pca_dim=None), lambda x, y: fit_xqda(x, y)])
def test_learned_metric_discounts_the_nuisance_dimension(fit):
    x, y, q, g, ids = nuisance_data()
    cams_q, cams_g = np.zeros(len(ids)), np.ones(len(ids))
    euclid = evaluate_rank(pairwise_distance(q, g), ids, ids, cams_q, cams_g)["mAP"]
    learned = evaluate_rank(fit(x, y).distance(q, g), ids, ids, cams_q, cams_g)["mAP"]
    assert euclid < 0.6 and learned > euclid + 0.3


def test_xqda_keeps_directions_with_eigenvalue_above_one_and_distance_is_nonnegative():
    x, y, q, g, _ = nuisance_data(1)
    metric = fit_xqda(x, y)
    assert 1 <= metric.projection.shape[1] <= 16
    assert fit_xqda(x, y, dim=3).projection.shape == (16, 3)
    assert metric.distance(q, g).min() > -1e-6


def test_kissme_pca_reduces_dimension():
    x, y, q, g, _ = nuisance_data(2)
    metric = fit_kissme(x, y, pca_dim=8)
    assert metric.projection.shape == (16, 8) and metric.distance(q, g).shape == (80, 80)


@pytest.mark.parametrize("x, y, message", [
    (np.ones((4, 2)), [0, 0, 0, 0], "at least two identities"),
    (np.ones((4, 2)), [0, 1, 2, 3], "two or more training images"),
    (np.ones((4, 2)), [0, 1, 1], "N labels"),
    (np.full((4, 2), np.nan), [0, 0, 1, 1], "NaN"),
])
def test_bad_training_data(x, y, message):
    with pytest.raises(ValueError, match=message):
        fit_kissme(x, y, pca_dim=None)


def test_embedding_turns_a_learned_metric_into_euclidean_distances():
    from reidlib.eval.metric_learning import fit_kissme

    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 8))
    y = np.repeat(np.arange(12), 5)
    metric = fit_kissme(x, y, pca_dim=6)
    q, g = x[:5], x[5:20]
    eq, eg = metric.embed(q), metric.embed(g)
    euclid = ((eq[:, None, :] - eg[None, :, :]) ** 2).sum(-1)
    np.testing.assert_allclose(euclid, metric.distance(q, g), rtol=1e-4, atol=1e-4)
