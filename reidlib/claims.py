"""The book's verdict rule for a paper's claim, applied to our runs.

A claim is a direction: "adding X raises rank-1". Over the same seeds we
have the metric with and without X; the rule (stated in the book's
landing page) is, with n >= 3 seeds:

* *reproduced*: our mean difference has the paper's sign and exceeds twice
  its standard error;
* *not reproduced*: it has the opposite sign beyond twice its standard error;
* *inconclusive*: otherwise (or with fewer than 3 seeds).

A claim about size as well as direction ("costs *a little*") states a bound
``at_most`` (points): it is *not reproduced* when our difference exceeds the
bound by more than twice its standard error, whatever its sign says.

Differences are paired by seed (each seed trains both variants), so the
standard error is that of the per-seed differences.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

MIN_SEEDS = 3

# The same rule asks our own questions ("does A beat B?"), which no paper claimed: their
# answers are called with these words, so they are never counted as a paper's verdicts.
CALLS = {"reproduced": "better", "not reproduced": "worse", "inconclusive": "no difference called"}


def compare(without: Sequence[float], with_: Sequence[float], paper_delta: float | None,
            direction: int = 0, at_most: float | None = None) -> dict:
    """Our difference ``with_ - without`` (paired by seed) judged against the paper's ``paper_delta``.

    A claim read off a figure has a direction but no number: pass
    ``paper_delta=None`` and ``direction`` +1 or -1. A claim of a small effect
    passes ``at_most``, the largest size (points, >= 0) the claim allows.

    Returns ``ours`` (mean difference), ``se`` (its standard error), ``n``,
    ``paper`` (NaN for a direction only) and ``verdict``.
    """
    a, b = np.asarray(without, float), np.asarray(with_, float)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"paired values needed: {a.shape} runs without, {b.shape} with")
    sign = np.sign(paper_delta) if paper_delta is not None else np.sign(direction)
    if sign == 0:
        raise ValueError("a claim needs a direction: a non-zero paper_delta, or direction +1 / -1")
    if at_most is not None and not at_most >= 0:
        raise ValueError(f"at_most bounds the size of an effect and must be >= 0 points, got {at_most}")
    diffs = b - a
    n = len(diffs)
    mean = float(diffs.mean()) if n else math.nan
    se = float(diffs.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan
    if n < MIN_SEEDS:
        verdict = "inconclusive"
    elif at_most is not None and abs(mean) - 2 * se > at_most:
        verdict = "not reproduced"  # the right direction, perhaps, but far larger than the claim allows
    elif abs(mean) > 2 * se and np.sign(mean) == sign:
        verdict = "reproduced"
    elif abs(mean) > 2 * se:
        verdict = "not reproduced"
    else:
        verdict = "inconclusive"
    return {"ours": mean, "se": se, "n": n, "paper": math.nan if paper_delta is None else float(paper_delta),
            "verdict": verdict}
