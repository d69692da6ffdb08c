"""Ranking metrics for re-ID: CMC, mAP and mINP under the standard protocols.

Every protocol here reduces to the same question per query: where, in the
gallery sorted by distance, do the query's true matches land? Instead of
sorting each gallery row (3,368 sorts of 15,913 items at Market-1501 size),
we sort only the handful of true matches and count, for each, how many valid
wrong matches are closer. The counts are exact, so the metrics equal those of
a full sort; ties are broken by gallery order, as a stable sort would.

Protocol rules (``protocol=``):

``"market"`` (also ``"dukemtmc"``, ``"msmt17"``, ``"cuhk03"`` for the new
767/700 protocol, and ``"mars"`` / ``"video"`` on tracklet features)
    Gallery images of the query's identity taken by the query's camera are
    removed from that query's ranking, so a match must cross cameras.
    Gallery images whose identity is in ``junk_ids`` (Market-1501's ``-1``)
    are removed from every ranking. Every other identity, including
    Market-1501's distractors (``0``), counts as a wrong match.

``"cuhk03_classic"``
    The single-gallery-shot protocol of the original CUHK03 benchmark: CMC
    is averaged over ``num_repeats`` random galleries that keep one image per
    identity (after the same-camera rule); mAP and mINP use the whole gallery.

Average precision (``ap=``):

``"noninterpolated"`` (default)
    AP = mean over the true matches of the precision at each match's rank:
    the convention of torchreid, fast-reid and most recent papers.
``"interpolated"``
    The rule of the official Market-1501 evaluation code (``compute_AP.m``):
    the precision-recall curve is integrated with the trapezoid rule, each
    recall step averaging the precision just before and at the match. As
    the precision just before a match is never above the precision at it,
    this AP is never higher than the non-interpolated one; the two agree
    when the true matches head the list.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from .distance import all_finite, to_tensor

PROTOCOL_ALIASES = {
    "market": "market",
    "market1501": "market",
    "dukemtmc": "market",
    "msmt17": "market",
    "cuhk03": "market",
    "mars": "market",
    "video": "market",
    "cuhk03_classic": "cuhk03_classic",
}
AP_METHODS = ("noninterpolated", "interpolated")
KINDS = ("distance", "similarity")

# A distance is never negative; computed as |q|^2 + |g|^2 - 2 q.g (or through a learned metric) in
# float32 it may come out a few rounding steps below 0, relative to the matrix's largest entry.
_ROUNDING = 1e-5

# Entries of one (queries x gallery) working block; bounds the memory of the
# counting step to a few hundred MB whatever the gallery size.
_BLOCK_ENTRIES = 2**24


def _as_ids(x, name: str, length: int | None = None) -> torch.Tensor:
    t = torch.tensor(np.asarray(x)).flatten()  # a copy: the caller's array may be read-only
    if t.is_floating_point() and not bool(torch.all(t == t.round())):
        raise ValueError(f"{name} must be integers, got non-integer values")
    t = t.to(torch.int64)
    if length is not None and t.numel() != length:
        raise ValueError(f"{name} has {t.numel()} entries but the distance matrix needs {length}")
    return t


def _check_inputs(distmat, query_ids, gallery_ids, query_cams, gallery_cams):
    d = to_tensor(distmat)
    if d.ndim != 2:
        raise ValueError(f"distmat must be a 2-D (queries, gallery) matrix, got shape {tuple(d.shape)}")
    num_q, num_g = d.shape
    if num_q == 0:
        raise ValueError("distmat has no query rows")
    if num_g == 0:
        raise ValueError("the gallery is empty: distmat has no columns")
    if not d.is_floating_point():
        d = d.double()
    if not all_finite(d):
        raise ValueError("distmat contains NaN or infinite distances: check the features")
    q_ids = _as_ids(query_ids, "query_ids", num_q)
    g_ids = _as_ids(gallery_ids, "gallery_ids", num_g)
    q_cams = _as_ids(query_cams, "query_cams", num_q)
    g_cams = _as_ids(gallery_cams, "gallery_cams", num_g)
    return d, q_ids, g_ids, q_cams, g_cams


def _as_distances(d: torch.Tensor, kind: str) -> torch.Tensor:
    """``d`` as distances (smaller = closer): a similarity is negated, a distance checked for sign.

    A similarity matrix (cosine similarity, dot products) passed as distances would rank every
    gallery backwards and give a plausible-looking, wrong score; its negative entries give it away.
    A similarity with no negative entry cannot be told from a distance: say ``kind="similarity"``.
    """
    if kind == "similarity":
        return -d
    lowest, highest = float(d.amin()), float(d.amax())
    if lowest < -_ROUNDING * max(1.0, abs(lowest), abs(highest)):
        raise ValueError(
            f"distmat has negative entries (the smallest is {lowest:.4g}), which a distance never has: it looks "
            "like a similarity matrix (larger = more alike), which ranked as distances would score every ranking "
            "backwards. Pass kind='similarity' for similarities, or distances (reidlib.eval.pairwise_distance)")
    return d


def _true_matches(d, q_ids, g_ids, q_cams, g_cams):
    """Each query's valid true matches, sorted by (distance, gallery index).

    Returns (dist, index, count): (Q, P) distances padded with +inf, (Q, P)
    gallery indices padded with G, and (Q,) numbers of valid matches.
    """
    num_g = d.shape[1]
    order = torch.sort(g_ids, stable=True).indices  # gallery grouped by identity, index order kept
    uniq, counts = torch.unique_consecutive(g_ids[order], return_counts=True)
    offsets = torch.cumsum(counts, 0) - counts
    slot = torch.searchsorted(uniq, q_ids).clamp(max=len(uniq) - 1)
    present = uniq[slot] == q_ids
    q_count = torch.where(present, counts[slot], torch.zeros_like(slot))
    width = max(int(q_count.max()), 1)
    k = torch.arange(width)
    inside = k.unsqueeze(0) < q_count.unsqueeze(1)
    flat = (offsets[slot].unsqueeze(1) + k.unsqueeze(0)).clamp(max=num_g - 1)
    g_idx = order[flat]
    # A true match shares the query's identity, which is never junk: only the camera rule applies.
    valid = inside & (g_cams[g_idx] != q_cams.unsqueeze(1))
    dist = torch.where(valid, d.gather(1, g_idx), torch.full_like(d[:, :1], float("inf")))
    index = torch.where(valid, g_idx, torch.full_like(g_idx, num_g))
    # Candidates come in gallery order, so a stable sort breaks distance ties by index.
    dist, perm = torch.sort(dist, dim=1, stable=True)
    index = index.gather(1, perm)
    return dist, index, valid.sum(1)


def _wrong_before_histogram(block, wrong, pd, pi, num_pos):
    """hist[q, j]: how many wrong matches have exactly j true matches ranked before them.

    Only wrong matches no farther than the query's last true match can
    change a rank, so only those are counted. When they are sparse (the
    usual case for a trained model) we compare each with the query's true
    matches directly; otherwise we binary-search every entry of the block.
    Ties go to the item that comes first in the gallery (a stable sort).
    """
    rows, num_g = block.shape
    width = pd.shape[1]
    last = pd.gather(1, (num_pos - 1).clamp(min=0).unsqueeze(1))
    last = torch.where(num_pos.unsqueeze(1) > 0, last, torch.full_like(last, float("-inf")))
    near = wrong & (block <= last)
    hist = torch.zeros((rows, width + 1), dtype=torch.int64)
    r, c = torch.nonzero(near, as_tuple=True)
    if r.numel() <= rows * num_g // 4:
        for s in range(0, r.numel(), 2**20):
            rr, cc = r[s:s + 2**20], c[s:s + 2**20]
            v = block[rr, cc].unsqueeze(1)
            seq = pd[rr]
            ahead = (seq < v) | ((seq == v) & (pi[rr] < cc.unsqueeze(1)))
            hist.index_put_((rr, ahead.sum(1)), torch.ones_like(rr), accumulate=True)
        return hist
    before = torch.searchsorted(pd, block, right=False)
    tied = near & (pd.gather(1, before.clamp(max=width - 1)) == block)
    if bool(tied.any()):
        # A wrong match at exactly a true match's distance goes after those
        # true matches that come earlier in the gallery.
        r, c = torch.nonzero(tied, as_tuple=True)
        same = (pd[r] == block[r, c].unsqueeze(1)) & (pi[r] < c.unsqueeze(1))
        before[r, c] += same.sum(1)
    before = torch.where(near, before, torch.full_like(before, width))
    return hist.scatter_add_(1, before, torch.ones_like(before))


def _match_ranks(d, g_ids, q_ids, junk_mask, pos_dist, pos_index, num_pos):
    """1-based rank of every true match among the query's valid gallery items.

    The histogram of "how many true matches precede this wrong match",
    accumulated, gives the number of wrong matches before each true match;
    adding the true matches before it gives its rank.
    """
    num_q, num_g = d.shape
    width = pos_dist.shape[1]
    ranks = torch.empty((num_q, width), dtype=torch.int64)
    step = max(1, _BLOCK_ENTRIES // num_g)
    for s in range(0, num_q, step):
        rows = slice(s, min(s + step, num_q))
        wrong = (g_ids.unsqueeze(0) != q_ids[rows].unsqueeze(1)) & ~junk_mask.unsqueeze(0)
        hist = _wrong_before_histogram(d[rows], wrong, pos_dist[rows].contiguous(),
                                       pos_index[rows], num_pos[rows])
        ranks[rows] = torch.cumsum(hist[:, :width], dim=1) + torch.arange(1, width + 1)
    return ranks


def _average_precision(ranks, num_pos, method):
    """Per-query AP from the 1-based ranks of the true matches (padded rows)."""
    width = ranks.shape[1]
    j = torch.arange(1, width + 1, dtype=torch.float64)
    valid = j.unsqueeze(0) <= num_pos.unsqueeze(1)
    r = ranks.to(torch.float64)
    precision = j / r
    if method == "interpolated":
        # Precision one valid item before the match; 1 at the top of the list.
        before = torch.where(r > 1, (j - 1) / (r - 1).clamp(min=1), torch.ones_like(r))
        precision = (before + precision) / 2
    total = torch.where(valid, precision, torch.zeros_like(precision)).sum(1)
    return total / num_pos.clamp(min=1)


def _classic_cmc(d, q_ids, g_ids, q_cams, junk_mask, pos_dist, pos_index, num_pos,
                 max_rank, num_repeats, seed):
    """CUHK03 single-gallery-shot CMC: one random image per gallery identity."""
    num_g = d.shape[1]
    gen = torch.Generator().manual_seed(seed)
    keep = ~junk_mask
    ids_kept = g_ids[keep]
    idx_kept = torch.nonzero(keep).flatten()
    uniq, inverse = torch.unique(ids_kept, return_inverse=True)
    cmc = torch.zeros(max_rank, dtype=torch.float64)
    has = num_pos > 0
    for _ in range(num_repeats):
        key = torch.rand(num_g, generator=gen, dtype=torch.float64)
        # One image per identity: the one with the smallest random key.
        best = torch.full((len(uniq),), 2.0, dtype=torch.float64).scatter_reduce(
            0, inverse, key[idx_kept], reduce="amin")
        chosen = idx_kept[key[idx_kept] == best[inverse]]
        # The query's own true match is drawn among its valid true matches only.
        pkey = torch.where(pos_index < num_g, key[pos_index.clamp(max=num_g - 1)],
                           torch.full_like(pos_dist, 2.0, dtype=torch.float64))
        pick = pkey.argmin(1, keepdim=True)
        pd = pos_dist.gather(1, pick)
        pi = pos_index.gather(1, pick)
        dc = d[:, chosen].to(pos_dist.dtype)
        wrong = g_ids[chosen].unsqueeze(0) != q_ids.unsqueeze(1)
        ahead = (dc < pd) | ((dc == pd) & (chosen.unsqueeze(0) < pi))
        rank = (wrong & ahead).sum(1) + 1
        hit = rank[has].unsqueeze(1) <= torch.arange(1, max_rank + 1).unsqueeze(0)
        cmc += hit.double().mean(0)
    return cmc / num_repeats


def ranked_gallery(query_ids, gallery_ids, query_cams, gallery_cams,
                   junk_ids: tuple[int, ...] = (-1,)) -> np.ndarray:
    """Which gallery items enter each query's ranking under the ``"market"`` protocol.

    Returns a (Q, G) boolean array: False where the gallery item is junk (its identity is in
    ``junk_ids``) or shows the query's identity in the query's own camera. :func:`evaluate_rank`
    ranks exactly these items (it counts them block by block instead of building this matrix);
    code that looks at rankings itself (the nearest neighbour, a top-k list) uses this mask so
    that its rules cannot drift from the metric's.
    """
    q_ids, g_ids = np.asarray(query_ids).reshape(-1, 1), np.asarray(gallery_ids).reshape(1, -1)
    q_cams, g_cams = np.asarray(query_cams).reshape(-1, 1), np.asarray(gallery_cams).reshape(1, -1)
    if q_ids.shape[0] != q_cams.shape[0] or g_ids.shape[1] != g_cams.shape[1]:
        raise ValueError(f"{q_ids.shape[0]} query identities but {q_cams.shape[0]} query cameras, or "
                         f"{g_ids.shape[1]} gallery identities but {g_cams.shape[1]} gallery cameras")
    own_view = (q_ids == g_ids) & (q_cams == g_cams)
    return ~(own_view | np.isin(g_ids, np.asarray(junk_ids, dtype=g_ids.dtype)))


def evaluate_rank(
    distmat,
    query_ids,
    gallery_ids,
    query_cams,
    gallery_cams,
    max_rank: int = 50,
    protocol: str = "market",
    ap: str = "noninterpolated",
    junk_ids: tuple[int, ...] = (-1,),
    num_repeats: int = 10,
    seed: int = 0,
    return_per_query: bool = False,
    kind: str = "distance",
) -> dict:
    """CMC, mAP and mINP of a query x gallery distance (or similarity) matrix.

    Args:
        distmat: (Q, G) distances (tensor or array); smaller is more similar.
            With ``kind="similarity"``, (Q, G) similarities: larger is more similar.
        query_ids, gallery_ids: (Q,) and (G,) integer identities.
        query_cams, gallery_cams: (Q,) and (G,) integer camera ids.
        max_rank: length of the CMC curve.
        protocol: see the module docstring (``"market"``, ``"cuhk03_classic"``, aliases).
        ap: ``"noninterpolated"`` (default) or ``"interpolated"`` (official Market-1501 code).
        junk_ids: gallery identities ignored in every ranking (Market-1501: ``-1``).
        num_repeats, seed: random galleries of ``"cuhk03_classic"``.
        return_per_query: also return per-query arrays (``query_ap``,
            ``query_inp``, ``query_first_rank``; NaN / 0 for queries without a match).
        kind: ``"distance"`` (default) or ``"similarity"``. A distance matrix with
            negative entries (beyond float rounding) is refused as a likely similarity.

    Returns:
        dict with ``cmc`` ((max_rank,) array of fractions), ``mAP``, ``mINP``
        (floats in [0, 1]), ``num_valid_queries`` and
        ``num_queries_without_match``. Queries with no valid true match in the
        gallery are left out of every average, counted in
        ``num_queries_without_match``, and announced with a warning.

    Raises:
        ValueError: on mismatched lengths, NaN distances, an empty gallery, an
            unknown protocol, AP method or kind, negative distances, or when no
            query has a valid match.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; choose one of {KINDS} (smaller or larger is more alike)")
    if protocol not in PROTOCOL_ALIASES:
        raise ValueError(f"unknown protocol {protocol!r}; choose one of {sorted(PROTOCOL_ALIASES)}")
    if ap not in AP_METHODS:
        raise ValueError(f"unknown AP method {ap!r}; choose one of {AP_METHODS}")
    if max_rank < 1:
        raise ValueError(f"max_rank must be at least 1, got {max_rank}")
    rule = PROTOCOL_ALIASES[protocol]
    d, q_ids, g_ids, q_cams, g_cams = _check_inputs(distmat, query_ids, gallery_ids, query_cams, gallery_cams)
    d = _as_distances(d.cpu(), kind)
    junk = tuple(int(j) for j in junk_ids)
    if junk and bool(torch.isin(q_ids, torch.tensor(junk)).any()):
        raise ValueError(f"some queries have a junk identity {junk}: remove them from the query set")
    junk_mask = torch.isin(g_ids, torch.tensor(junk)) if junk else torch.zeros(len(g_ids), dtype=torch.bool)

    pos_dist, pos_index, num_pos = _true_matches(d, q_ids, g_ids, q_cams, g_cams)
    ranks = _match_ranks(d, g_ids, q_ids, junk_mask, pos_dist, pos_index, num_pos)
    has = num_pos > 0
    num_valid = int(has.sum())
    if num_valid == 0:
        raise ValueError(
            "no query has a valid true match in the gallery (same identity, other camera): "
            "check that query and gallery identities and cameras are the right arrays"
        )
    missing = len(q_ids) - num_valid
    if missing:
        warnings.warn(
            f"{missing} of {len(q_ids)} queries have no valid true match in the gallery and are "
            "left out of CMC, mAP and mINP",
            stacklevel=2,
        )

    first = ranks[:, 0]
    last = ranks.gather(1, (num_pos - 1).clamp(min=0).unsqueeze(1)).squeeze(1)
    ap_all = _average_precision(ranks, num_pos, ap)
    inp_all = num_pos.double() / last.double()
    if rule == "cuhk03_classic":
        cmc = _classic_cmc(d, q_ids, g_ids, q_cams, junk_mask, pos_dist, pos_index, num_pos,
                           max_rank, num_repeats, seed)
    else:
        hit = first[has].unsqueeze(1) <= torch.arange(1, max_rank + 1).unsqueeze(0)
        cmc = hit.double().mean(0)

    result = {
        "cmc": cmc.numpy(),
        "mAP": float(ap_all[has].mean()),
        "mINP": float(inp_all[has].mean()),
        "num_valid_queries": num_valid,
        "num_queries_without_match": missing,
    }
    if return_per_query:
        nan = torch.full_like(ap_all, float("nan"))
        result["query_ap"] = torch.where(has, ap_all, nan).numpy()
        result["query_inp"] = torch.where(has, inp_all, nan).numpy()
        result["query_first_rank"] = torch.where(has, first, torch.zeros_like(first)).numpy()
    return result
