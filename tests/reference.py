"""Slow, literal implementations used as ground truth by the tests.

They follow the published definitions step by step with dense arrays and
per-query loops, so they are easy to check by eye and too slow for real use.
"""

from __future__ import annotations

import numpy as np


def rank_one_query(dist, q_id, q_cam, g_ids, g_cams, junk_ids=(-1,)):
    """Match flags of the valid gallery of one query, in ranked order.

    Stable sort: ties are broken by gallery index.
    """
    order = np.argsort(dist, kind="stable")
    keep = ~((g_ids[order] == q_id) & (g_cams[order] == q_cam))
    keep &= ~np.isin(g_ids[order], list(junk_ids))
    return (g_ids[order][keep] == q_id)


def ap_noninterpolated(matches):
    hits = np.flatnonzero(matches)
    return np.mean([(k + 1) / (r + 1) for k, r in enumerate(hits)])


def ap_market_official(matches):
    """Transcription of the loop in Market-1501's compute_AP.m (junk already removed)."""
    ngood = matches.sum()
    old_recall, old_precision, ap, hits = 0.0, 1.0, 0.0, 0
    for j, good in enumerate(matches):
        hits += int(good)
        recall = hits / ngood
        precision = hits / (j + 1)
        ap += (recall - old_recall) * (old_precision + precision) / 2
        old_recall, old_precision = recall, precision
        if hits == ngood:
            break
    return ap


def evaluate_brute_force(distmat, q_ids, g_ids, q_cams, g_cams, max_rank=10, ap="noninterpolated"):
    cmc, aps, inps = [], [], []
    for i in range(len(q_ids)):
        m = rank_one_query(distmat[i], q_ids[i], q_cams[i], g_ids, g_cams)
        if not m.any():
            continue
        hits = np.flatnonzero(m)
        c = np.zeros(max_rank)
        c[hits[0]:] = 1
        cmc.append(c)
        aps.append(ap_noninterpolated(m) if ap == "noninterpolated" else ap_market_official(m))
        inps.append(len(hits) / (hits[-1] + 1))
    if not aps:
        return {"num_valid_queries": 0}
    return {"cmc": np.mean(cmc, 0), "mAP": np.mean(aps), "mINP": np.mean(inps), "num_valid_queries": len(aps)}


def re_ranking_dense(q, g, k1=20, k2=6, lambda_value=0.3):
    """The k-reciprocal re-ranking algorithm written out with dense N x N arrays."""
    feats = np.concatenate([q, g]).astype(np.float64)
    num_q, n = len(q), len(feats)
    diff = feats[:, None, :] - feats[None, :, :]
    dist = (diff ** 2).sum(-1)
    dist = dist / dist.max(axis=1, keepdims=True)
    rank = np.argsort(dist, axis=1, kind="stable")
    half = int(np.around(k1 / 2.0))
    v = np.zeros((n, n))
    for i in range(n):
        fwd = rank[i, :k1 + 1]
        back = rank[fwd, :k1 + 1]
        recip = fwd[np.where(back == i)[0]]
        expanded = recip
        for c in recip:
            c_fwd = rank[c, :half + 1]
            c_back = rank[c_fwd, :half + 1]
            c_recip = c_fwd[np.where(c_back == c)[0]]
            if len(np.intersect1d(c_recip, recip)) > 2.0 / 3.0 * len(c_recip):
                expanded = np.append(expanded, c_recip)
        expanded = np.unique(expanded)
        w = np.exp(-dist[i, expanded])
        v[i, expanded] = w / w.sum()
    if k2 != 1:
        v = np.stack([v[rank[i, :k2]].mean(0) for i in range(n)])
    jac = np.zeros((num_q, n))
    for i in range(num_q):
        t = np.minimum(v[i][None, :], v).sum(1)
        jac[i] = 1 - t / (2 - t)
    final = jac * (1 - lambda_value) + dist[:num_q] * lambda_value
    return final[:, num_q:]
