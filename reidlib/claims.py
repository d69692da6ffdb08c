"""The book's verdict rule (rule v2) for a paper's claim, applied to our runs.

A claim is one question on one dataset, counted once: "adding X raises mAP".
Over the same seeds we have the metric with and without X (each seed trains
both, so the differences are paired). Rule v2, stated once in the book's
landing page and applied only here:

* **the interval**: the mean difference over seeds with a 95 % interval from
  Student's t with n - 1 degrees of freedom. Its standard error combines the
  spread over seeds with the sampling error of the test set (the queries),
  so no difference has an error of zero (:func:`sampling_variance`);
* **direction**: *reproduced* when the interval lies on the paper's side of
  zero, *not reproduced* when it lies on the other side, *inconclusive*
  otherwise (and with fewer than :data:`MIN_SEEDS` seeds);
* **size**, where the paper gives a number: *same size* when the paper's
  difference lies in our interval, *larger* or *smaller* otherwise (measured
  along the paper's direction);
* **testable**: a claim is judged only where the baseline of its runs (the
  claim's ``without`` row) learned: rank-1 at least :data:`LEARNED_TIMES_CHANCE`
  times the rank-1 of a random ranking (:func:`reidlib.eval.chance_rank1`).
  Otherwise it is *not testable here*, with the reason;
* a claim whose runs have no committed record is *withdrawn*, with the reason.

A claim about size as well as direction ("costs *a little*") states a bound
``at_most`` in points and where the bound comes from: it is *reproduced*
only when the whole interval lies on the paper's side within the bound, and
*not reproduced* when the whole interval lies beyond the bound.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats

RULE = "v2"
MIN_SEEDS = 3
CONFIDENCE = 0.95
# The floor under which a run set's baseline "did not learn": rank-1 below ten times
# that of a random ranking. (CUHK01's from-scratch baseline at the cpu profile: 6x.)
LEARNED_TIMES_CHANCE = 10.0

DIRECTIONS = ("reproduced", "not reproduced", "inconclusive")
NOT_TESTABLE = "not testable here"
WITHDRAWN = "withdrawn"
VERDICTS = (*DIRECTIONS, NOT_TESTABLE, WITHDRAWN)
SIZES = ("same size", "larger", "smaller")

# The same rule asks our own questions ("does A beat B?"), which no paper claimed: their
# answers are called with these words, so they are never counted as a paper's verdicts.
CALLS = {"reproduced": "better", "not reproduced": "worse", "inconclusive": "no difference called",
         NOT_TESTABLE: NOT_TESTABLE, WITHDRAWN: WITHDRAWN}

# How the test set's sampling error was found (a claim's ``test error`` column).
PER_QUERY = "per query, by identity"
BINOMIAL = "binomial over queries"


def t_multiplier(n: int, confidence: float = CONFIDENCE) -> float:
    """Student's t quantile for a two-sided ``confidence`` interval of a mean of ``n`` values."""
    if n < 2:
        return math.nan
    return float(stats.t.ppf(0.5 + confidence / 2, n - 1))


def _per_query(result: dict, metric: str) -> dict[int, tuple[int, float]] | None:
    """``{query index: (identity, value)}`` of one evaluation, or None when it kept no per-query scores."""
    prefix = "rerank_" if metric.startswith("rerank_") else ""  # re-ranked scores keep their own
    per, metric = result.get(f"{prefix}per_query"), metric.removeprefix(prefix)
    if not per:
        return None
    if metric == "rank1":
        values = [float(r == 1) for r in per["first_rank"]]
    elif metric == "mAP":
        values = per["ap"]
    else:
        return None
    return {int(q): (int(p), float(v)) for q, p, v in zip(per["query"], per["pid"], values)}


def _binomial(result: dict, metric: str) -> float:
    """Variance (fraction²) of a mean over the queries of a [0, 1] score with mean ``result[metric]``.

    p (1 - p) / Q is the binomial variance for rank-1 and an upper bound for
    any other per-query score in [0, 1] (AP), since none has a larger variance
    at the same mean.
    """
    q = result.get("num_valid_queries")
    if not q:
        raise KeyError(f"a result without num_valid_queries (keys {sorted(result)[:8]}...): the test set's "
                       "sampling error cannot be found; evaluate the run again (reidlib.engine.records.evaluate_run)")
    p = min(max(float(result[metric]), 0.0), 1.0)
    return p * (1 - p) / q


def sampling_variance(without: dict, with_: dict, metric: str) -> tuple[float, str]:
    """Variance (points²) of ``with_[metric] - without[metric]`` from sampling the test queries.

    Both are evaluations of one seed on the same test set. Where both kept
    their per-query scores (``per_query``: query index, identity, AP and the
    rank of the first true match; run records from rule v2 on), the variance
    of the paired mean difference with queries clustered by identity (the
    sandwich estimator of a paired bootstrap over query identities, computed
    exactly rather than drawn). Otherwise the binomial variance of each side
    over its queries, summed (pairing ignored, so it can only be larger).
    Returns ``(variance, how)``.
    """
    a, b = _per_query(without, metric), _per_query(with_, metric)
    if a is not None and b is not None and a.keys() == b.keys():
        queries = sorted(a)
        diff = np.array([b[q][1] - a[q][1] for q in queries])
        pids = np.array([a[q][0] for q in queries])
        groups = np.unique(pids, return_inverse=True)[1]
        n, g = len(diff), groups.max() + 1
        if g < 2:
            return 0.0, PER_QUERY
        sums = np.bincount(groups, weights=diff - diff.mean(), minlength=g)
        return float(1e4 * g / (g - 1) * np.sum(sums ** 2) / n ** 2), PER_QUERY
    return 1e4 * (_binomial(without, metric) + _binomial(with_, metric)), BINOMIAL


def compare(without: Sequence[float], with_: Sequence[float], paper_delta: float | None,
            direction: int = 0, at_most: float | None = None, test_var: float = 0.0) -> dict:
    """Our difference ``with_ - without`` (points, paired by seed) judged against the paper's ``paper_delta``.

    A claim read off a figure has a direction but no number: pass
    ``paper_delta=None`` and ``direction`` +1 or -1. A claim of a small effect
    passes ``at_most``, the largest size (points, >= 0) the claim allows.
    ``test_var`` is the variance (points²) the test set's sampling adds to
    the mean difference (:func:`sampling_variance`, averaged over the seeds:
    the seeds share one test set, so it does not shrink with their number).

    Returns ``ours`` (mean difference), ``se`` (its standard error, seeds and
    test set), ``low`` / ``high`` (the 95 % interval), ``n``, ``paper`` (NaN
    for a direction only), ``verdict`` (direction) and ``size`` (None
    without a paper number).
    """
    a, b = np.asarray(without, float), np.asarray(with_, float)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"paired values needed: {a.shape} runs without, {b.shape} with")
    sign = np.sign(paper_delta) if paper_delta is not None else np.sign(direction)
    if sign == 0:
        raise ValueError("a claim needs a direction: a non-zero paper_delta, or direction +1 / -1")
    if at_most is not None and not at_most >= 0:
        raise ValueError(f"at_most bounds the size of an effect and must be >= 0 points, got {at_most}")
    if not test_var >= 0:
        raise ValueError(f"test_var is a variance and must be >= 0, got {test_var}")
    diffs = b - a
    n = len(diffs)
    mean = float(diffs.mean()) if n else math.nan
    se = float(math.sqrt(diffs.var(ddof=1) / n + test_var)) if n > 1 else math.nan
    half = t_multiplier(n) * se
    low, high = mean - half, mean + half
    lo, hi = sorted((sign * low, sign * high))  # the interval along the paper's direction
    if n < MIN_SEEDS:
        verdict = "inconclusive"
    elif hi < 0 or (at_most is not None and lo > at_most):
        verdict = "not reproduced"  # the other side of zero, or all of it further than the claim allows
    elif lo > 0 and (at_most is None or hi <= at_most):
        verdict = "reproduced"
    else:
        verdict = "inconclusive"
    size = None
    if paper_delta is not None and n >= MIN_SEEDS:
        size = "same size" if lo <= abs(paper_delta) <= hi else "larger" if lo > abs(paper_delta) else "smaller"
    return {"ours": mean, "se": se, "low": low, "high": high, "n": n,
            "paper": math.nan if paper_delta is None else float(paper_delta), "verdict": verdict, "size": size}


def learned(rank1: float, chance: float) -> bool:
    """Whether a baseline with test ``rank1`` learned, by the rule's floor (both fractions)."""
    return rank1 >= LEARNED_TIMES_CHANCE * chance


def rule_text() -> str:
    """Rule v2 in words, for the book's landing page: the one place the book states it (Markdown)."""
    pct = f"{100 * CONFIDENCE:g} %"
    return (
        f"**The verdict rule (rule {RULE}).** A claim is one question on one dataset, counted once; where the "
        "paper reports mAP its verdict is on mAP, with rank-1 shown beside it. Each seed trains both rows of a "
        "claim, and our difference is their mean difference over the seeds, with a "
        f"{pct} interval from Student's t with n - 1 degrees of freedom. The interval's standard error "
        "combines the spread over the seeds with the sampling error of the test set: the variance of the "
        "paired difference over query identities where a run record keeps each query's AP and first-hit rank, "
        "and otherwise the binomial variance of each score over its queries (an upper bound for mAP), as the "
        "claim's *test error* column says.\n\n"
        f"*Direction*: with at least {MIN_SEEDS} seeds, **reproduced** when the interval lies on the paper's "
        "side of zero, **not reproduced** when it lies on the other side, **inconclusive** otherwise. "
        "*Size*, where the paper gives a number: **same size** when the paper's difference lies in our "
        "interval, **larger** or **smaller** otherwise. A claim that an effect is small states its bound "
        "in points and where the bound comes from; it is reproduced only when the whole interval lies within "
        "the bound on the paper's side, and not reproduced when all of it lies beyond.\n\n"
        f"A claim is **{NOT_TESTABLE}** when the baseline row of its runs did not learn: rank-1 under "
        f"{LEARNED_TIMES_CHANCE:g} times that of a random ranking of the same test set (the library's one "
        "definition of chance, `reidlib.eval.chance_rank1`). A result whose runs or scores have no committed "
        f"record is **{WITHDRAWN}**, with the reason, until it is trained again. Questions the papers did not "
        f"ask are answered by the same rule as **{CALLS['reproduced']}**, **{CALLS['not reproduced']}** or "
        f"**{CALLS['inconclusive']}**, and are not counted as a paper's verdicts. A claim that does not "
        "reproduce is a finding, and is reported as one.")
