"""Re-ID evaluation: distances, CMC / mAP / mINP, re-ranking, metric learning.

The public entry points (notebooks and the engine call these):

* :func:`pairwise_distance` and :func:`iter_distance_chunks`: chunked distances.
* :func:`evaluate_rank`: CMC, mAP and mINP under the Market-1501, CUHK03 and
  MARS protocols, with either AP convention; :func:`ranked_gallery`, the
  gallery items each query's ranking counts.
* :func:`re_ranking`: k-reciprocal re-ranking in bounded memory.
* :func:`chance_rank1`: rank-1 of a random ranking, the study's one definition of chance.
* :func:`fit_kissme`, :func:`fit_xqda`: learned distances on fixed features.
* :func:`extract_features`, :func:`pool_tracklet_features`, :func:`tracklet_records`: embeddings from a model.
"""

from .chance import chance_rank1
from .distance import iter_distance_chunks, pairwise_distance
from .features import extract_features, pool_tracklet_features, tracklet_records
from .metric_learning import LearnedMetric, fit_kissme, fit_xqda
from .rank import evaluate_rank, ranked_gallery
from .rerank import re_ranking

__all__ = [
    "LearnedMetric",
    "chance_rank1",
    "evaluate_rank",
    "extract_features",
    "fit_kissme",
    "fit_xqda",
    "iter_distance_chunks",
    "pairwise_distance",
    "pool_tracklet_features",
    "ranked_gallery",
    "re_ranking",
    "tracklet_records",
]
