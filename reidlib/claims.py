"""The book's verdict rule for a paper's claim, applied to our runs.

A claim is a direction: "adding X raises rank-1". Over the same seeds we
have the metric with and without X; the rule (stated in the book's
landing page) is, with n >= 3 seeds:

* *reproduced*: our mean difference has the paper's sign and exceeds twice
  its standard error;
* *not reproduced*: it has the opposite sign beyond twice its standard error;
* *inconclusive*: otherwise (or with fewer than 3 seeds).

Differences are paired by seed (each seed trains both variants), so the
standard error is that of the per-seed differences.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

MIN_SEEDS = 3


def compare(without: Sequence[float], with_: Sequence[float], paper_delta: float | None,
            direction: int = 0) -> dict:
    """Our difference ``with_ - without`` (paired by seed) judged against the paper's ``paper_delta``.

    A claim read off a figure has a direction but no number: pass
    ``paper_delta=None`` and ``direction`` +1 or -1.

    Returns ``ours`` (mean difference), ``se`` (its standard error), ``n``,
    ``paper`` (NaN for a direction only) and ``verdict``.
    """
    a, b = np.asarray(without, float), np.asarray(with_, float)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"paired values needed: {a.shape} runs without, {b.shape} with")
    sign = np.sign(paper_delta) if paper_delta is not None else np.sign(direction)
    if sign == 0:
        raise ValueError("a claim needs a direction: a non-zero paper_delta, or direction +1 / -1")
    diffs = b - a
    n = len(diffs)
    mean = float(diffs.mean()) if n else math.nan
    se = float(diffs.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan
    if n < MIN_SEEDS:
        verdict = "inconclusive"
    elif abs(mean) > 2 * se and np.sign(mean) == sign:
        verdict = "reproduced"
    elif abs(mean) > 2 * se:
        verdict = "not reproduced"
    else:
        verdict = "inconclusive"
    return {"ours": mean, "se": se, "n": n, "paper": math.nan if paper_delta is None else float(paper_delta),
            "verdict": verdict}
