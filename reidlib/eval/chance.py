"""Chance: what a model that ranks the gallery at random scores. The study's one definition.

Every "beats chance" claim and the verdict rule's floor
(:data:`reidlib.claims.LEARNED_TIMES_CHANCE`) use :func:`chance_rank1`.
"""

from __future__ import annotations

import numpy as np

from .features import tracklet_records
from .rank import evaluate_rank


def chance_rank1(data, draws: int = 20, seed: int = 0, protocol: str = "market") -> float:
    """Rank-1 of a model that ranks the gallery at random (a fraction), by the library's evaluation.

    ``data`` is a :class:`reidlib.data.ReIDDataset`. The mean over ``draws``
    random (Q, G) distance matrices, scored with :func:`evaluate_rank` as the
    trainer scores a model, so the protocol's junk and same-camera rules
    count exactly as they do there (a video dataset is ranked by tracklet,
    one record standing for each).
    """
    query, gallery = ((tracklet_records(split) if data.is_video else split) for split in (data.query, data.gallery))
    qids, gids = [r.pid for r in query], [r.pid for r in gallery]
    qcams, gcams = [r.camid for r in query], [r.camid for r in gallery]
    rng = np.random.default_rng(seed)
    return float(np.mean([evaluate_rank(rng.random((len(qids), len(gids))), qids, gids, qcams, gcams,
                                        protocol=protocol)["cmc"][0] for _ in range(draws)]))
