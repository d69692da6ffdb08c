"""evaluate_rank: hand-computed protocol cases and a brute-force reference."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import evaluate_brute_force

from reidlib.eval import evaluate_rank, ranked_gallery


def one_query(dist, g_ids, g_cams, q_id=1, q_cam=0, **kw):
    return evaluate_rank(np.asarray(dist, float)[None, :], [q_id], g_ids, [q_cam], g_cams, max_rank=4, **kw)


def test_junk_images_are_ignored():
    r = one_query([0.1, 0.2, 0.3], [-1, 1, 2], [1, 1, 1])
    assert r["cmc"][0] == 1.0 and r["mAP"] == 1.0
    counted = one_query([0.1, 0.2, 0.3], [-1, 1, 2], [1, 1, 1], junk_ids=())
    assert counted["cmc"][0] == 0.0 and counted["mAP"] == pytest.approx(0.5)


def test_distractors_count_as_wrong():
    r = one_query([0.1, 0.2], [0, 1], [1, 1])
    assert r["cmc"].tolist() == [0.0, 1.0, 1.0, 1.0]
    assert r["mAP"] == pytest.approx(0.5) and r["mINP"] == pytest.approx(0.5)


def test_same_camera_matches_are_removed():
    # valid ranking: id1/cam1 (match), id2 (wrong), id1/cam2 (match); id1/cam0 is removed
    r = one_query([0.1, 0.2, 0.3, 0.4], [1, 1, 2, 1], [0, 1, 1, 2])
    assert r["cmc"][0] == 1.0
    assert r["mAP"] == pytest.approx((1 + 2 / 3) / 2)
    assert r["mINP"] == pytest.approx(2 / 3)


def test_other_identities_in_the_query_camera_stay():
    r = one_query([0.1, 0.2], [2, 1], [0, 1])
    assert r["cmc"][0] == 0.0 and r["mAP"] == pytest.approx(0.5)


def test_ties_follow_gallery_order():
    assert one_query([0.5, 0.5], [2, 1], [1, 1])["mAP"] == pytest.approx(0.5)
    assert one_query([0.5, 0.5], [1, 2], [1, 1])["mAP"] == pytest.approx(1.0)


def test_interpolated_ap_matches_compute_ap_by_hand():
    # true matches at ranks 2 and 3: trapezoids (0 + 1/2)/2 and (1/2 + 2/3)/2, each over 2 matches
    dist, ids, cams = [0.1, 0.2, 0.3], [2, 1, 1], [1, 1, 2]
    assert one_query(dist, ids, cams)["mAP"] == pytest.approx((1 / 2 + 2 / 3) / 2)
    assert one_query(dist, ids, cams, ap="interpolated")["mAP"] == pytest.approx((0.25 + (0.5 + 2 / 3) / 2) / 2)
    # identical when the true matches head the list
    top = ([0.1, 0.2, 0.3], [1, 1, 2], [1, 2, 1])
    assert one_query(*top, ap="interpolated")["mAP"] == pytest.approx(1.0)


def test_queries_without_a_match_are_counted_and_left_out():
    dist = np.array([[0.1, 0.2], [0.3, 0.1]])
    with pytest.warns(UserWarning, match="1 of 2 queries have no valid true match"):
        r = evaluate_rank(dist, [1, 5], [1, 2], [0, 0], [1, 1])
    assert r["num_valid_queries"] == 1 and r["num_queries_without_match"] == 1
    assert r["mAP"] == 1.0  # the unmatched query is not averaged in as a zero
    with pytest.warns(UserWarning):
        per_query = evaluate_rank(dist, [1, 5], [1, 2], [0, 0], [1, 1], return_per_query=True)
    assert np.isnan(per_query["query_ap"][1])


@pytest.mark.parametrize("bad, message", [
    (dict(query_ids=[1, 2, 3]), "query_ids has 3 entries"),
    (dict(gallery_cams=[0]), "gallery_cams has 1 entries"),
    (dict(distmat=np.array([[np.nan, 1.0, 2.0]] * 2)), "NaN"),
    (dict(distmat=np.zeros((2, 0)), gallery_ids=[], gallery_cams=[]), "gallery is empty"),
    (dict(protocol="viper"), "unknown protocol"),
    (dict(ap="11-point"), "unknown AP method"),
    (dict(query_ids=[-1, 1]), "junk identity"),
    (dict(query_ids=[7, 8]), "no query has a valid true match"),
    (dict(query_ids=[1.5, 2]), "must be integers"),
])
def test_bad_input_gives_a_clear_error(bad, message):
    args = dict(distmat=np.ones((2, 3)), query_ids=[1, 2], gallery_ids=[1, 2, 3], query_cams=[0, 0],
                gallery_cams=[1, 1, 1])
    args.update(bad)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match=message):
            evaluate_rank(**args)


def test_a_similarity_matrix_is_refused_as_distances_and_ranked_right_as_similarities():
    rng = np.random.default_rng(5)
    feats = rng.normal(size=(30, 8))
    feats /= np.linalg.norm(feats, axis=1, keepdims=True)
    ids, cams = np.repeat(np.arange(1, 11), 3), np.tile([0, 1, 2], 10)
    similarity = feats[:15] @ feats.T  # cosine similarities, in [-1, 1]
    dist = 1 - similarity  # the cosine distance ranks the same galleries
    want = evaluate_rank(dist, ids[:15], ids, cams[:15], cams)
    with pytest.raises(ValueError, match=r"negative entries \(the smallest is -0\.\d+.*kind='similarity'"):
        evaluate_rank(similarity, ids[:15], ids, cams[:15], cams)
    got = evaluate_rank(similarity, ids[:15], ids, cams[:15], cams, kind="similarity")
    assert got["mAP"] == pytest.approx(want["mAP"], abs=1e-12)
    np.testing.assert_allclose(got["cmc"], want["cmc"])
    # the ranking is not reversed: the best match by similarity is first
    assert one_query([0.9, 0.1, 0.5], [1, 2, 2], [1, 1, 1], kind="similarity")["cmc"][0] == 1.0
    assert one_query([0.9, 0.1, 0.5], [1, 2, 2], [1, 1, 1])["cmc"][0] == 0.0
    # float rounding of a distance below 0 is not a similarity
    assert one_query([-1e-7, 0.4, 3.0], [1, 2, 2], [1, 1, 1])["mAP"] == 1.0
    with pytest.raises(ValueError, match="unknown kind 'distances'"):
        one_query([0.1, 0.2], [1, 2], [1, 1], kind="distances")


@settings(max_examples=30, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**31), tie_levels=st.sampled_from([0, 3]))
def test_similarities_rank_as_their_negated_distances_ties_included(seed, tie_levels):
    rng = np.random.default_rng(seed)
    q_ids, g_ids = rng.integers(1, 5, 12), rng.integers(1, 5, 40)
    q_cams, g_cams = rng.integers(0, 3, 12), rng.integers(0, 3, 40)
    dist = rng.integers(0, tie_levels, (12, 40)).astype(float) if tie_levels else rng.random((12, 40))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            want = evaluate_rank(dist, q_ids, g_ids, q_cams, g_cams)
        except ValueError:  # no valid true match: the similarity must fail the same way
            with pytest.raises(ValueError, match="no query has a valid true match"):
                evaluate_rank(-dist, q_ids, g_ids, q_cams, g_cams, kind="similarity")
            return
        got = evaluate_rank(-dist, q_ids, g_ids, q_cams, g_cams, kind="similarity")
    assert got["mAP"] == want["mAP"] and got["mINP"] == want["mINP"]
    np.testing.assert_array_equal(got["cmc"], want["cmc"])


@settings(max_examples=80, deadline=None, derandomize=True)
@given(
    num_q=st.integers(1, 25), num_g=st.integers(1, 120), num_ids=st.integers(1, 8),
    num_cams=st.integers(1, 4), tie_levels=st.sampled_from([0, 3, 10]), seed=st.integers(0, 2**31),
    ap=st.sampled_from(["noninterpolated", "interpolated"]),
)
def test_agrees_with_brute_force(num_q, num_g, num_ids, num_cams, tie_levels, seed, ap):
    rng = np.random.default_rng(seed)
    q_ids = rng.integers(1, num_ids + 1, num_q)
    g_ids = rng.integers(-1, num_ids + 1, num_g)
    q_cams, g_cams = rng.integers(0, num_cams, num_q), rng.integers(0, num_cams, num_g)
    dist = rng.integers(0, tie_levels, (num_q, num_g)).astype(float) if tie_levels else rng.random((num_q, num_g))
    ref = evaluate_brute_force(dist, q_ids, g_ids, q_cams, g_cams, max_rank=10, ap=ap)
    if ref["num_valid_queries"] == 0:
        with pytest.raises(ValueError):
            evaluate_rank(dist, q_ids, g_ids, q_cams, g_cams, max_rank=10, ap=ap)
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = evaluate_rank(dist, q_ids, g_ids, q_cams, g_cams, max_rank=10, ap=ap)
    np.testing.assert_allclose(got["cmc"], ref["cmc"], atol=1e-12)
    assert got["mAP"] == pytest.approx(ref["mAP"], abs=1e-12)
    assert got["mINP"] == pytest.approx(ref["mINP"], abs=1e-12)
    assert got["num_valid_queries"] == ref["num_valid_queries"]


@settings(max_examples=40, deadline=None, derandomize=True)
@given(num_q=st.integers(1, 20), num_g=st.integers(1, 60), num_ids=st.integers(1, 6),
       num_cams=st.integers(1, 3), seed=st.integers(0, 2**31))
def test_ranked_gallery_is_the_mask_evaluate_rank_ranks(num_q, num_g, num_ids, num_cams, seed):
    # Rank-1 computed by hand from the mask (the nearest kept item shares the query's identity) must
    # equal evaluate_rank's on every query that has a kept true match.
    rng = np.random.default_rng(seed)
    q_ids, g_ids = rng.integers(1, num_ids + 1, num_q), rng.integers(-1, num_ids + 1, num_g)
    q_cams, g_cams = rng.integers(0, num_cams, num_q), rng.integers(0, num_cams, num_g)
    dist = rng.random((num_q, num_g))
    kept = ranked_gallery(q_ids, g_ids, q_cams, g_cams)
    assert kept.shape == (num_q, num_g)
    assert not kept[:, g_ids == -1].any()
    has = (kept & (q_ids[:, None] == g_ids[None, :])).any(1)
    if not has.any():
        return
    top = np.where(kept, dist, np.inf).argmin(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = evaluate_rank(dist, q_ids, g_ids, q_cams, g_cams, max_rank=1)
    assert got["cmc"][0] == pytest.approx((g_ids[top] == q_ids)[has].mean())


def test_ranked_gallery_refuses_mismatched_cameras():
    with pytest.raises(ValueError, match="query cameras"):
        ranked_gallery([1, 2], [1], [0], [0])


def test_dense_and_sparse_counting_paths_agree():
    # A good ranking takes the sparse path, a random one the dense path: both must equal the reference.
    rng = np.random.default_rng(3)
    q_ids, g_ids = rng.integers(1, 20, 60), rng.integers(1, 20, 900)
    q_cams, g_cams = rng.integers(0, 3, 60), rng.integers(0, 3, 900)
    good = rng.random((60, 900)) + 2.0 * (q_ids[:, None] != g_ids[None, :])
    for dist in (good, rng.random((60, 900))):
        ref = evaluate_brute_force(dist, q_ids, g_ids, q_cams, g_cams, max_rank=10)
        got = evaluate_rank(dist, q_ids, g_ids, q_cams, g_cams, max_rank=10)
        assert got["mAP"] == pytest.approx(ref["mAP"], abs=1e-12)
        np.testing.assert_allclose(got["cmc"], ref["cmc"])


def test_cuhk03_classic_with_one_image_per_identity_equals_market():
    rng = np.random.default_rng(0)
    g_ids = np.arange(1, 31)
    q_ids = rng.integers(1, 31, 40)
    dist = rng.random((40, 30))
    classic = evaluate_rank(dist, q_ids, g_ids, np.zeros(40), np.ones(30), protocol="cuhk03_classic")
    market = evaluate_rank(dist, q_ids, g_ids, np.zeros(40), np.ones(30))
    np.testing.assert_allclose(classic["cmc"], market["cmc"])
    assert classic["mAP"] == market["mAP"]


def test_cuhk03_classic_samples_one_image_per_identity():
    # Two true matches (ranks 1 and 3 in the full gallery), one wrong identity with one image:
    # the sampled true match is first with probability 1/2.
    args = (np.array([[0.1, 0.2, 0.3]]), [1], [1, 2, 1], [0], [1, 1, 1])
    r = evaluate_rank(*args, protocol="cuhk03_classic", num_repeats=4000, seed=1, max_rank=2)
    assert abs(r["cmc"][0] - 0.5) < 0.03 and r["cmc"][1] == 1.0
    again = evaluate_rank(*args, protocol="cuhk03_classic", num_repeats=4000, seed=1, max_rank=2)
    assert again["cmc"][0] == r["cmc"][0]  # seeded


def test_video_protocol_is_market_on_tracklets():
    rng = np.random.default_rng(1)
    dist = rng.random((10, 40))
    q, g = rng.integers(1, 5, 10), rng.integers(0, 5, 40)
    qc, gc = rng.integers(0, 2, 10), rng.integers(0, 2, 40)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = evaluate_rank(dist, q, g, qc, gc, protocol="mars")
        b = evaluate_rank(dist, q, g, qc, gc, protocol="market")
    assert a["mAP"] == b["mAP"]


def test_first_matches_follows_the_market_rules():
    from reidlib.eval.explain import first_matches

    # query 0 (id 7, cam 1): nearest is id 7 in cam 1 (removed), then id 3 (wrong), then id 7 in cam 2
    # query 1 (id 3, cam 2): nearest is junk (-1, removed), then id 3 in cam 1 (right)
    # query 2 (id 9, cam 1): no true match in the gallery
    d = np.array([[0.1, 0.2, 0.3, 0.9], [0.5, 0.2, 0.6, 0.1], [0.4, 0.3, 0.2, 0.1]])
    gids, gcams = [7, 3, 7, -1], [1, 1, 2, 1]
    m = first_matches(d, [7, 3, 9], gids, [1, 2, 1], gcams)
    assert m["rank1_index"].tolist() == [1, 1, 2]
    assert m["rank1_correct"].tolist() == [False, True, False]
    assert m["match_index"].tolist() == [2, 1, -1]
    assert m["match_rank"].tolist()[:2] == [2, 1] and np.isnan(m["match_rank"][2])
