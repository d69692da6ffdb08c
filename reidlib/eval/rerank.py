"""k-reciprocal re-ranking (Zhong, Zheng, Cao, Li, CVPR 2017) in bounded memory.

The algorithm as published treats queries and gallery as one set of N images
and builds dense N x N matrices (the original distances, the full argsort,
the encoding V, its query expansion). At MSMT17 size (N = 93,820) one such
float32 matrix is 35 GB. Every step, however, only looks at a few dozen
nearest neighbours per image, so this implementation keeps:

* the (k1 + 1) nearest neighbours and the largest distance of each image,
  found block by block over the symmetric distance matrix (each block is
  computed once and read along both its rows and its columns);
* the encoding V and its query expansion as sparse matrices;
* the (Q, G) result, filled in place.

The numbers are those of the published algorithm (the test suite compares
them with a direct dense implementation); the memory is the (Q, G) result
plus O(N * k1^2) working space.
"""

from __future__ import annotations

import itertools

import numpy as np
import scipy.sparse as sp
import torch
from tqdm import tqdm

from .distance import as_feature_tensor

# Side of the square blocks of the all-to-all distance matrix.
_BLOCK = 2048
# Query-gallery pairs handled at once when accumulating the Jaccard distance.
_JOIN_PAIRS = 2**23


def _sq_dist(a, a_sq, b, b_sq):
    out = torch.addmm(b_sq.unsqueeze(0), a, b.T, alpha=-2.0)
    out += a_sq.unsqueeze(1)
    return out.clamp_(min=0.0)


def _merge_topk(best_d, best_i, new_d, new_i, k):
    d = torch.cat([best_d, new_d], dim=1)
    i = torch.cat([best_i, new_i], dim=1)
    d, pos = torch.topk(d, k, dim=1, largest=False, sorted=True)
    return d, i.gather(1, pos)


def _neighbours_and_query_rows(feats, sq, num_query, k, out, progress):
    """k nearest neighbours and row maxima of the all-to-all squared distance.

    Also copies the raw query x gallery distances into ``out`` (Q, G).
    """
    n = feats.shape[0]
    best_d = torch.full((n, k), float("inf"))
    best_i = torch.zeros((n, k), dtype=torch.int64)
    row_max = torch.zeros(n)
    starts = list(range(0, n, _BLOCK))
    pairs = [(a, b) for a in starts for b in starts if a <= b]
    for a, b in tqdm(pairs, desc="re-ranking: neighbours", disable=not progress, leave=False):
        ra, rb = slice(a, min(a + _BLOCK, n)), slice(b, min(b + _BLOCK, n))
        block = _sq_dist(feats[ra], sq[ra], feats[rb], sq[rb])
        kk = min(k, block.shape[1])
        v, i = torch.topk(block, kk, dim=1, largest=False, sorted=True)
        best_d[ra], best_i[ra] = _merge_topk(best_d[ra], best_i[ra], v, i + b, k)
        row_max[ra] = torch.maximum(row_max[ra], block.max(dim=1).values)
        if a != b:
            # The same block read along its columns; a contiguous copy makes both reductions faster.
            block_t = block.T.contiguous()
            v, i = torch.topk(block_t, min(k, block_t.shape[1]), dim=1, largest=False, sorted=True)
            best_d[rb], best_i[rb] = _merge_topk(best_d[rb], best_i[rb], v, i + a, k)
            row_max[rb] = torch.maximum(row_max[rb], block_t.max(dim=1).values)
        # Queries come first, so every (query, gallery) entry lies in a block a <= b.
        q_rows = slice(ra.start, min(ra.stop, num_query))
        if q_rows.start < q_rows.stop:
            g_lo, g_hi = max(rb.start, num_query), rb.stop
            if g_lo < g_hi:
                out[q_rows, g_lo - num_query:g_hi - num_query] = block[
                    : q_rows.stop - q_rows.start, g_lo - rb.start:g_hi - rb.start].numpy()
    return best_i, row_max


def _reciprocal(rank: torch.Tensor) -> torch.Tensor:
    """mask[i, a]: is i among the neighbours of its neighbour rank[i, a]?"""
    n = rank.shape[0]
    mask = torch.empty(rank.shape, dtype=torch.bool)
    step = max(1, 2**22 // (rank.shape[1] ** 2))
    for s in range(0, n, step):
        r = rank[s:s + step]
        me = torch.arange(s, s + r.shape[0]).view(-1, 1, 1)
        mask[s:s + step] = (rank[r] == me).any(dim=2)
    return mask


def _expansion_sets(rank, k1):
    """Each image's k-reciprocal set expanded by its candidates' half-size sets.

    Returns COO (rows, cols) of the expanded sets, without duplicates.
    """
    n = rank.shape[0]
    half = min(int(round(k1 / 2.0)) + 1, rank.shape[1])  # Python and NumPy both round half to even
    recip = _reciprocal(rank)
    rank_h = rank[:, :half].contiguous()
    recip_h = _reciprocal(rank_h)
    size_h = recip_h.sum(1)
    rows, cols = [], []
    step = max(1, 2**22 // (rank.shape[1] ** 2 * half))
    for s in range(0, n, step):
        r, m = rank[s:s + step], recip[s:s + step]
        cand_sets = rank_h[r]          # (c, K, half): each candidate's half-size neighbours
        cand_mask = recip_h[r]         # ... and which of them are reciprocal
        in_set = (cand_sets.unsqueeze(-1) == r.view(r.shape[0], 1, 1, -1)) & m.view(r.shape[0], 1, 1, -1)
        overlap = (in_set.any(-1) & cand_mask).sum(-1)
        accept = m & (overlap.double() > (2.0 / 3.0) * size_h[r].double())
        members = torch.cat([
            torch.where(m, r, -1),
            torch.where(accept.unsqueeze(-1) & cand_mask, cand_sets, -1).flatten(1),
        ], dim=1)
        members, _ = torch.sort(members, dim=1)
        first = torch.ones_like(members, dtype=torch.bool)
        first[:, 1:] = members[:, 1:] != members[:, :-1]
        keep = first & (members >= 0)
        rr, cc = torch.nonzero(keep, as_tuple=True)
        rows.append(rr + s)
        cols.append(members[rr, cc])
    return torch.cat(rows), torch.cat(cols)


def _encoding(feats, sq, row_max, rows, cols):
    """Sparse V: Gaussian-kernel weights over each expanded set, rows summing to 1."""
    n = feats.shape[0]
    dist = torch.empty(rows.shape[0], dtype=torch.float64)
    step = 2**16
    for s in range(0, rows.shape[0], step):
        r, c = rows[s:s + step], cols[s:s + step]
        d = sq[r] + sq[c] - 2.0 * (feats[r] * feats[c]).sum(1)
        dist[s:s + step] = (d.clamp(min=0.0) / row_max[r]).double()
    w = torch.exp(-dist).numpy()
    r_np, c_np = rows.numpy(), cols.numpy()
    row_sum = np.bincount(r_np, weights=w, minlength=n)
    return sp.csr_matrix((w / row_sum[r_np], (r_np, c_np)), shape=(n, n))


def _jaccard_into(out, v, num_query, lambda_value, progress):
    """out <- (1 - lambda) * Jaccard + out, for query rows x gallery columns.

    For query i and gallery j, sum_k min(V[i,k], V[j,k]) runs over the k
    where both are non-zero: we join each query's non-zeros with the
    gallery rows that share column k (an inverted index).
    """
    num_g = out.shape[1]
    vq = v[:num_query].tocsr()
    vg = v[num_query:].tocsc()
    col_start, col_count = vg.indptr[:-1], np.diff(vg.indptr)
    pattern = vq.copy()
    pattern.data = np.ones_like(pattern.data)
    pairs_per_row = pattern @ col_count
    # Chunks of query rows bounded both in joined pairs and in dense (rows, G) scratch.
    max_rows = max(1, _JOIN_PAIRS // num_g)
    bounds = [0]
    acc = 0
    for i, p in enumerate(pairs_per_row):
        if i > bounds[-1] and (acc + p > _JOIN_PAIRS or i - bounds[-1] >= max_rows):
            bounds.append(i)
            acc = 0
        acc += p
    bounds.append(num_query)
    for s, e in tqdm(list(itertools.pairwise(bounds)), desc="re-ranking: Jaccard",
                     disable=not progress, leave=False):
        lo, hi = vq.indptr[s], vq.indptr[e]
        ks, a = vq.indices[lo:hi], vq.data[lo:hi]
        row = np.repeat(np.arange(e - s), np.diff(vq.indptr[s:e + 1]))
        cnt = col_count[ks]
        total = int(cnt.sum())
        # Positions of each non-zero's partners in the inverted index (ragged arange).
        offsets = np.repeat(col_start[ks] - (np.cumsum(cnt) - cnt), cnt) + np.arange(total)
        flat = np.repeat(row * num_g, cnt) + vg.indices[offsets]
        shared = np.minimum(np.repeat(a, cnt), vg.data[offsets])
        t = np.bincount(flat, weights=shared, minlength=(e - s) * num_g).reshape(e - s, num_g)
        out[s:e] += ((1.0 - lambda_value) * (1.0 - t / (2.0 - t))).astype(np.float32)


def re_ranking(
    query_features,
    gallery_features,
    k1: int = 20,
    k2: int = 6,
    lambda_value: float = 0.3,
    progress: bool = False,
) -> np.ndarray:
    """k-reciprocal re-ranked query x gallery distances.

    The original distance is the squared Euclidean distance of the features
    as given (normalise them first if your model's metric is cosine), divided
    by each image's largest distance to any query or gallery image.

    Args:
        query_features: (Q, D) features.
        gallery_features: (G, D) features.
        k1: size of the k-reciprocal neighbourhoods (paper: 20).
        k2: size of the local query expansion (paper: 6; 1 turns it off).
        lambda_value: weight of the original distance in the result (paper: 0.3).
        progress: show progress bars.

    Returns:
        (Q, G) float32 array: lambda * original + (1 - lambda) * Jaccard distance.
    """
    if k1 < 1 or k2 < 1:
        raise ValueError(f"k1 and k2 must be at least 1, got k1={k1}, k2={k2}")
    if not 0.0 <= lambda_value <= 1.0:
        raise ValueError(f"lambda_value must lie in [0, 1], got {lambda_value}")
    q = as_feature_tensor(query_features, "query features").detach().cpu().float()
    g = as_feature_tensor(gallery_features, "gallery features").detach().cpu().float()
    if q.shape[1] != g.shape[1]:
        raise ValueError(f"query features have {q.shape[1]} dimensions but gallery features have {g.shape[1]}")
    num_q, num_g = q.shape[0], g.shape[0]
    feats = torch.cat([q, g]).contiguous()
    del q, g
    n = feats.shape[0]
    sq = (feats * feats).sum(1)
    out = np.empty((num_q, num_g), dtype=np.float32)

    with torch.no_grad():
        # k2 may exceed k1 + 1: the query expansion then reaches further than the k-reciprocal sets.
        nbr_all, row_max = _neighbours_and_query_rows(feats, sq, num_q, min(max(k1 + 1, k2), n), out, progress)
        rank = nbr_all[:, :k1 + 1]
        row_max = row_max.clamp(min=torch.finfo(torch.float32).tiny)
        out *= (lambda_value / row_max[:num_q].numpy())[:, None]
        rows, cols = _expansion_sets(rank, k1)
        v = _encoding(feats, sq, row_max, rows, cols)
        del feats, rows, cols
        if k2 != 1:
            k = min(k2, nbr_all.shape[1])
            nbr = nbr_all[:, :k].numpy()
            expand = sp.csr_matrix(
                (np.full(n * k, 1.0 / k), (np.repeat(np.arange(n), k), nbr.ravel())), shape=(n, n))
            v = expand @ v
        _jaccard_into(out, v, num_q, lambda_value, progress)
    return out
