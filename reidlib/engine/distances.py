"""A trained run under other distances: Euclidean, KISSME, XQDA and XQDA + re-ranking (MGCAM's Table 3).

KISSME and XQDA are learned on the run's own training features (the training
images through the test transforms); re-ranking works on the XQDA space
(:meth:`reidlib.eval.LearnedMetric.embed`), as MGCAM combines them.
"""

from __future__ import annotations

import numpy as np

from ..eval import evaluate_rank, fit_kissme, fit_xqda, pairwise_distance, re_ranking

DISTANCES = ("euclidean", "kissme", "xqda", "xqda+rerank")


def distance_scores(trainer, kinds: tuple[str, ...] = DISTANCES, kissme_dim: int = 64) -> dict[str, dict]:
    """``{kind: {"rank1", "mAP", "mINP"}}`` of a loaded run (:func:`reidlib.engine.trainer.load_run`)."""
    unknown = [k for k in kinds if k not in DISTANCES]
    if unknown:
        raise ValueError(f"unknown distance(s) {unknown}; choose from {DISTANCES}")
    train, train_records = trainer.features("train")
    query, query_records = trainer.features("query")
    gallery, gallery_records = trainer.features("gallery")
    labels = ([r.pid for r in query_records], [r.pid for r in gallery_records],
              [r.camid for r in query_records], [r.camid for r in gallery_records])
    pids = [r.pid for r in train_records]
    metrics = {}
    if "kissme" in kinds:
        metrics["kissme"] = fit_kissme(train, pids, pca_dim=min(kissme_dim, train.shape[1]))
    if "xqda" in kinds or "xqda+rerank" in kinds:
        metrics["xqda"] = fit_xqda(train, pids)
    out = {}
    for kind in kinds:
        if kind == "euclidean":
            dist = pairwise_distance(query, gallery)
        elif kind == "xqda+rerank":
            m = metrics["xqda"]
            dist = re_ranking(m.embed(query), m.embed(gallery))
        else:
            dist = metrics[kind].distance(query, gallery)
        r = evaluate_rank(np.asarray(dist), *labels)
        out[kind] = {"rank1": float(r["cmc"][0]), "mAP": float(r["mAP"]), "mINP": float(r["mINP"])}
    return out
