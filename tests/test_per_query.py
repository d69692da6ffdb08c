"""Results keep each query's AP and first-hit rank, and they agree with the averages."""

import numpy as np
import pytest

from reidlib.claims import sampling_variance
from reidlib.engine.trainer import per_query_scores
from reidlib.eval import evaluate_rank


def test_per_query_scores_average_to_rank1_and_map_and_leave_out_queries_without_a_match():
    rng = np.random.default_rng(0)
    qids, gids = np.arange(30) % 12, np.arange(60) % 10  # queries of identities 10 and 11 have no match
    qcams, gcams = np.zeros(30, int), np.ones(60, int)
    with pytest.warns(UserWarning, match="no valid true match"):
        res = evaluate_rank(rng.random((30, 60)), qids, gids, qcams, gcams, return_per_query=True)
    per = per_query_scores(res, qids)
    assert len(per["query"]) == res["num_valid_queries"] == 30 - 4
    assert set(per["pid"]) == set(range(10)) and all(qids[q] == p for q, p in zip(per["query"], per["pid"]))
    assert np.mean(per["ap"]) == pytest.approx(res["mAP"], abs=1e-6)
    assert np.mean([r == 1 for r in per["first_rank"]]) == pytest.approx(res["cmc"][0])
    # and the verdict rule reads them: a model against itself has no sampling error
    result = {"rank1": res["cmc"][0], "mAP": res["mAP"], "num_valid_queries": 26, "per_query": per}
    assert sampling_variance(result, result, "mAP") == (0.0, "per query, by identity")
