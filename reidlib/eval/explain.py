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
