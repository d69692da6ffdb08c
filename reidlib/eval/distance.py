"""Pairwise distances between query and gallery features, computed in chunks.

A Market-1501 distance matrix is small (3,368 x 15,913 floats, 214 MB), but
MSMT17's is 3.8 GB and re-ranking needs distances between all query and
gallery images. So distances are computed a block of query rows at a time on
the chosen device, and only the requested output is ever materialised.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

METRICS = ("euclidean", "sqeuclidean", "cosine")

# Default working memory for one block of the distance computation.
DEFAULT_CHUNK_BYTES = 256 * 2**20


def all_finite(t: torch.Tensor) -> bool:
    """True when no entry is NaN or infinite.

    The minimum and maximum propagate NaN and reach an infinity if there is
    one; two reductions are much faster than ``torch.isfinite(t).all()``.
    """
    return bool(torch.isfinite(t.amin())) and bool(torch.isfinite(t.amax()))


def to_tensor(x) -> torch.Tensor:
    """A tensor sharing memory with ``x`` where it safely can (read-only arrays are copied)."""
    if isinstance(x, np.ndarray) and not x.flags.writeable:
        x = x.copy()
    return torch.as_tensor(x)


def as_feature_tensor(x, name: str) -> torch.Tensor:
    """Check a feature matrix and return it as a floating-point tensor.

    Raises ValueError for anything that would give a silently wrong distance:
    a wrong number of dimensions, no rows, or non-finite values.
    """
    t = to_tensor(x)
    if t.ndim != 2:
        raise ValueError(f"{name} must be a 2-D (N, D) feature matrix, got shape {tuple(t.shape)}")
    if t.shape[0] == 0:
        raise ValueError(f"{name} is empty: it has no rows")
    if not t.is_floating_point():
        t = t.float()
    if not all_finite(t):
        rows = torch.nonzero(~torch.isfinite(t).all(dim=1)).flatten()[:5].tolist()
        raise ValueError(
            f"{name} contains NaN or infinite values (rows {rows}...): "
            "check the model output before evaluating"
        )
    return t


def _rows_per_chunk(num_cols: int, dim: int, chunk_bytes: int) -> int:
    # One chunk holds a (rows, num_cols) result block plus a (rows, dim) copy
    # of the query rows, all in float32.
    per_row = 4 * (num_cols + dim) * 2
    return max(1, int(chunk_bytes // per_row))


def iter_distance_chunks(
    query,
    gallery,
    metric: str = "euclidean",
    device: str | torch.device | None = None,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    out: torch.Tensor | None = None,
) -> Iterator[tuple[slice, torch.Tensor]]:
    """Yield ``(rows, block)`` pairs covering the (Q, G) distance matrix.

    ``block`` is a (len(rows), G) float32 tensor on ``device`` (default: the
    device of ``query``). Use this when the whole matrix need not be kept.
    With ``out`` (a (Q, G) float32 tensor on ``device``) each block is
    computed in place in ``out[rows]``.
    """
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; choose one of {METRICS}")
    q = as_feature_tensor(query, "query features")
    g = as_feature_tensor(gallery, "gallery features")
    if q.shape[1] != g.shape[1]:
        raise ValueError(
            f"query features have {q.shape[1]} dimensions but gallery features have {g.shape[1]}"
        )
    device = torch.device(device) if device is not None else q.device
    g = g.to(device=device, dtype=torch.float32)
    if metric == "cosine":
        g = torch.nn.functional.normalize(g, dim=1)
    g_sq = (g * g).sum(dim=1).unsqueeze(0)
    step = _rows_per_chunk(g.shape[0], g.shape[1], chunk_bytes)
    for start in range(0, q.shape[0], step):
        rows = slice(start, min(start + step, q.shape[0]))
        qc = q[rows].to(device=device, dtype=torch.float32)
        block = out[rows] if out is not None else None
        if metric == "cosine":
            block = torch.mm(torch.nn.functional.normalize(qc, dim=1), g.T, out=block)
            block.neg_().add_(1.0)
        else:
            # |q - g|^2 = |q|^2 + |g|^2 - 2 q.g; the clamp removes the tiny
            # negative values that rounding leaves for identical vectors.
            block = torch.addmm(g_sq, qc, g.T, alpha=-2.0, out=block)
            block += (qc * qc).sum(dim=1, keepdim=True)
            block.clamp_(min=0.0)
            if metric == "euclidean":
                block.sqrt_()
        yield rows, block


def pairwise_distance(
    query,
    gallery,
    metric: str = "euclidean",
    device: str | torch.device | None = None,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
) -> torch.Tensor:
    """Distances between every query and gallery feature.

    Args:
        query: (Q, D) features (tensor or array).
        gallery: (G, D) features.
        metric: ``"euclidean"``, ``"sqeuclidean"`` or ``"cosine"`` (1 - cosine similarity).
        device: where to compute (``"cpu"``, ``"cuda"``); defaults to the query's device.
        chunk_bytes: working memory for one block of query rows; the result
            is assembled on the CPU, so a GPU never holds more than one block.

    Returns:
        (Q, G) float32 CPU tensor.
    """
    q = as_feature_tensor(query, "query features")
    out = torch.empty((q.shape[0], len(gallery)), dtype=torch.float32)
    on_cpu = torch.device(device if device is not None else q.device).type == "cpu"
    for rows, block in iter_distance_chunks(q, gallery, metric, device, chunk_bytes,
                                            out=out if on_cpu else None):
        if not on_cpu:
            out[rows] = block.cpu()
    return out
