"""One query's ranked gallery, spelled out: what each protocol rule does to it."""

from __future__ import annotations

import numpy as np
import pandas as pd

ROLES = ("true match", "same-camera match", "junk", "distractor", "wrong match")


def ranked_gallery(
    distances, query_id: int, query_cam: int, gallery_ids, gallery_cams,
    junk_ids: tuple[int, ...] = (-1,), distractor_ids: tuple[int, ...] = (0,),
) -> pd.DataFrame:
    """The gallery sorted by distance to one query, with each image's role.

    Columns: ``gallery_index``, ``id``, ``cam``, ``distance``, ``role`` (one of
    :data:`ROLES`), ``counted`` (False for the images the Market-1501
    protocol removes) and ``rank`` (1-based position among counted images,
    NaN for removed ones). Ties keep gallery order, as ``evaluate_rank`` does.
    """
    d = np.asarray(distances, dtype=float).reshape(-1)
    ids, cams = np.asarray(gallery_ids).reshape(-1), np.asarray(gallery_cams).reshape(-1)
    if not len(d) == len(ids) == len(cams):
        raise ValueError(f"{len(d)} distances for {len(ids)} gallery ids and {len(cams)} cameras")
    order = np.argsort(d, kind="stable")
    same_id = ids[order] == query_id
    same_cam = cams[order] == query_cam
    junk = np.isin(ids[order], list(junk_ids))
    role = np.select(
        [same_id & same_cam, same_id, junk, np.isin(ids[order], list(distractor_ids))],
        ["same-camera match", "true match", "junk", "distractor"], default="wrong match")
    counted = ~(same_id & same_cam) & ~junk
    rank = np.full(len(d), np.nan)
    rank[counted] = np.arange(1, counted.sum() + 1)
    return pd.DataFrame({
        "gallery_index": order, "id": ids[order], "cam": cams[order], "distance": d[order],
        "role": role, "counted": counted, "rank": rank,
    })


def first_matches(distmat, query_ids, gallery_ids, query_cams, gallery_cams,
                  junk_ids: tuple[int, ...] = (-1,)) -> pd.DataFrame:
    """Per query, the gallery image ranked first and the best-ranked true match (Market-1501 rules).

    Same-camera images of the query's person and junk images are removed
    before ranking, as :func:`ranked_gallery` (and ``evaluate_rank``) do.
    Returns one row per query: ``rank1_index`` (gallery index of the first
    counted image), ``rank1_correct``, ``match_index`` (the first true match,
    -1 when the gallery has none) and ``match_rank`` (1-based, NaN when none).
    """
    d = np.asarray(distmat, dtype=float)
    qids, gids = np.asarray(query_ids).reshape(-1), np.asarray(gallery_ids).reshape(-1)
    qcams, gcams = np.asarray(query_cams).reshape(-1), np.asarray(gallery_cams).reshape(-1)
    if d.shape != (len(qids), len(gids)) or len(qcams) != len(qids) or len(gcams) != len(gids):
        raise ValueError(f"distances {d.shape} for {len(qids)} queries ({len(qcams)} cameras) and "
                         f"{len(gids)} gallery images ({len(gcams)} cameras)")
    order = np.argsort(d, axis=1, kind="stable")
    same_id = gids[order] == qids[:, None]
    counted = ~(same_id & (gcams[order] == qcams[:, None])) & ~np.isin(gids[order], list(junk_ids))
    first = counted.argmax(1)  # every query has at least one counted image unless the gallery is all junk
    if not counted.any(1).all():
        raise ValueError("a query has no gallery image left after removing junk and same-camera matches")
    true = same_id & counted
    has_match = true.any(1)
    match_pos = true.argmax(1)
    rows = np.arange(len(qids))
    return pd.DataFrame({
        "rank1_index": order[rows, first],
        "rank1_correct": same_id[rows, first],
        "match_index": np.where(has_match, order[rows, match_pos], -1),
        "match_rank": np.where(has_match, np.cumsum(counted, 1)[rows, match_pos], np.nan),
    })
