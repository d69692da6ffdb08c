"""Ablations: named variants of one method, trained over the same seeds, tabulated and judged.

A chapter lists its variants as ``--set`` overrides of one method and the
paper's claims as pairs of variants; these helpers train the runs (finished
runs are reused), put mean and spread in a table, and apply the book's
verdict rule (:mod:`reidlib.claims`) to each claim.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .claims import LEARNED_TIMES_CHANCE, NOT_TESTABLE, WITHDRAWN, compare, learned, sampling_variance
from .engine import TrainConfig, make_config, run_seeds
from .engine.seeds import train_unclaimed


def run_variants(method: str, profile: str, variants: dict[str, list[str]], seeds: list[int],
                 dataset: str | None = None, common: list[str] = ()) -> dict[str, list[dict]]:
    """Train every variant (``name -> overrides``) over ``seeds``; returns ``name -> [results per seed]``.

    Runs another process is training are collected last (:func:`~reidlib.engine.seeds.train_unclaimed`).
    """
    return run_configs({name: make_config(method, profile, dataset, overrides=[*common, *overrides])
                        for name, overrides in variants.items()}, seeds)


def run_configs(configs: dict[str, TrainConfig], seeds: list[int]) -> dict[str, list[dict]]:
    """Train (or reuse) every named config over ``seeds``: ``name -> [results per seed]``.

    The runs no other process is training go first, then every run is collected.
    """
    train_unclaimed(list(configs.values()), seeds)
    return {name: run_seeds(cfg, seeds)["runs"] for name, cfg in configs.items()}


def metric_table(runs: dict[str, list[dict]], metrics: tuple[str, ...] = ("rank1", "mAP")) -> pd.DataFrame:
    """Mean and standard deviation (over seeds) of each metric per variant, as fractions."""
    rows = {}
    for name, results in runs.items():
        row = {}
        for m in metrics:
            values = pd.Series([r[m] for r in results], dtype=float)
            row[f"{m} mean"] = values.mean()
            row[f"{m} std"] = values.std(ddof=1) if len(values) > 1 else 0.0
        rows[name] = row
    return pd.DataFrame(rows).T


def mean_std(table: pd.DataFrame, metric: str, digits: int = 1) -> list[str]:
    """``"64.2 ± 4.1"`` per row of a :func:`metric_table` (fractions shown as percent)."""
    return [f"{100 * m:.{digits}f} ± {100 * s:.{digits}f}" for m, s in zip(table[f"{metric} mean"], table[f"{metric} std"])]


@dataclass
class Claim:
    """The paper says ``metric`` goes from variant ``without`` to ``with_`` by ``paper_delta`` (points).

    One claim per question and dataset: its verdict is on ``metric`` (mAP where
    the paper reports mAP), and ``paper_rank1`` (the paper's rank-1
    difference, if any) is shown beside it with ours. A claim read off a
    figure gives ``paper_delta=None`` and its ``direction`` (+1 / -1). A claim
    that the effect is small ("costs a little") gives its bound ``at_most`` in
    points. ``source`` says where a number that is the study's reading of the
    paper's words comes from (a bound, a midpoint, a direction read off a figure).
    """

    label: str
    without: str
    with_: str
    metric: str
    paper_delta: float | None
    direction: int = 0
    at_most: float | None = None
    paper_rank1: float | None = None
    source: str = ""


def _seed_values(results: list[dict]) -> dict[int, dict]:
    return {r["seed"]: r for r in results}


def judge(runs: dict[str, list[dict]], claims: list[Claim], seeds: list[int] | None = None,
          chance: float | None = None, withdrawn: dict[str, str] | None = None) -> pd.DataFrame:
    """One row per claim, by rule v2 (:mod:`reidlib.claims`): the paper's difference, ours and the verdict.

    ``runs``: variant -> results per seed (each with ``seed``, the metrics and
    ``num_valid_queries``, or per-query scores). ``seeds``: the seeds every
    variant should have; a variant with fewer (runs without a committed
    record, as a records-only execution finds them) or listed in
    ``withdrawn`` (variant -> reason) makes its claims *withdrawn*.
    ``chance``: rank-1 of a random ranking on the test set (a fraction,
    :func:`reidlib.eval.chance_rank1`); a claim whose ``without`` row's
    rank-1 is under the floor is *not testable here*.

    Columns (differences in points): ``metric``, ``paper``, ``ours``, ``low``
    and ``high`` (95 % interval), ``seeds``, ``verdict``, ``size``, ``rank-1
    paper``, ``rank-1 ours``, ``test error`` (how the test set's sampling
    error was found) and ``note`` (why a claim is withdrawn or not testable,
    and where a reading of the paper's words comes from).
    """
    withdrawn = dict(withdrawn or {})
    for name, results in runs.items():
        have = {r["seed"] for r in results}
        if seeds is not None and not set(seeds) <= have:
            withdrawn.setdefault(name, f"{len(set(seeds) & have)} of {len(seeds)} seeds of {name!r} have a "
                                       "run record")
    rows = []
    for c in claims:
        row = {"claim": c.label, "metric": c.metric, "paper": math.nan if c.paper_delta is None else c.paper_delta,
               "ours": math.nan, "low": math.nan, "high": math.nan, "seeds": 0, "verdict": WITHDRAWN, "size": None,
               "rank-1 paper": math.nan if c.paper_rank1 is None else c.paper_rank1, "rank-1 ours": math.nan,
               "test error": None, "note": c.source}
        gone = [withdrawn.get(v, f"no runs of {v!r}") for v in (c.without, c.with_)
                if v in withdrawn or not runs.get(v)]
        if gone:
            rows.append({**row, "note": "; ".join(dict.fromkeys(gone))})  # (a reason shared by both rows once)
            continue
        a, b = _seed_values(runs[c.without]), _seed_values(runs[c.with_])
        paired = sorted(set(a) & set(b))
        test_var = [sampling_variance(a[s], b[s], c.metric) for s in paired]
        res = compare([100 * a[s][c.metric] for s in paired], [100 * b[s][c.metric] for s in paired],
                      c.paper_delta, c.direction, c.at_most, float(np.mean([v for v, _ in test_var])))
        row.update(ours=res["ours"], low=res["low"], high=res["high"], seeds=res["n"], verdict=res["verdict"],
                   size=res["size"], **{"test error": test_var[0][1]})
        if c.metric != "rank1":
            row["rank-1 ours"] = float(np.mean([100 * (b[s]["rank1"] - a[s]["rank1"]) for s in paired]))
        base_rank1 = float(np.mean([a[s]["rank1"] for s in paired]))
        if chance is not None and not learned(base_rank1, chance):
            row.update(verdict=NOT_TESTABLE, size=None,
                       note=f"{c.without!r} did not learn: rank-1 {100 * base_rank1:.1f} % is under "
                            f"{LEARNED_TIMES_CHANCE:g} x chance ({100 * chance:.2f} %)")
        rows.append(row)
    return pd.DataFrame(rows, columns=["claim", *CLAIM_COLUMNS]).set_index("claim")


CLAIM_COLUMNS = ("metric", "paper", "ours", "low", "high", "seeds", "verdict", "size", "rank-1 paper",
                 "rank-1 ours", "test error", "note")


def interval_text(lows, highs, digits: int = 1) -> list[str]:
    """Each claim's interval as a table shows it, ``"[-1.2, +3.4]"``; a blank where it has none (a withdrawn claim)."""
    return [f"[{lo:+.{digits}f}, {hi:+.{digits}f}]" if pd.notna(lo) else "" for lo, hi in zip(lows, highs)]


def claims_table(records: list[dict], digits: int = 1) -> pd.DataFrame:
    """Judged claims as a chapter shows them: one row per claim, differences in points to ``digits``.

    ``records`` are :func:`judge` rows as a results file stores them (a list
    of dicts with a ``claim`` key; JSON sorts their keys, so the columns are
    put back in :func:`judge`'s order here). The interval is shown as one
    ``95 % interval`` column and the rank-1 differences beside a claim judged on mAP
    as one ``rank-1 paper / ours`` column; columns empty in every row are left out,
    and a number a claim lacks is a blank.
    """
    table = pd.DataFrame(records).set_index("claim")
    table = table[[c for c in CLAIM_COLUMNS if c in table] + [c for c in table if c not in CLAIM_COLUMNS]]
    table = table.round({c: digits for c in ("paper", "ours", "low", "high", "rank-1 paper", "rank-1 ours")
                         if c in table})
    if {"low", "high"} <= set(table):
        table.insert(table.columns.get_loc("low"), "95 % interval", interval_text(table["low"], table["high"], digits))
        table = table.drop(columns=["low", "high"])
    table = table.dropna(axis=1, how="all")
    if {"rank-1 paper", "rank-1 ours"} <= set(table):  # one column, so that the table fits the page
        pair = [" / ".join("" if pd.isna(v) else f"{v:.{digits}f}" for v in values)
                for values in zip(table["rank-1 paper"], table["rank-1 ours"])]
        table.insert(table.columns.get_loc("rank-1 paper"), "rank-1 paper / ours", [p.strip(" /") for p in pair])
        table = table.drop(columns=["rank-1 paper", "rank-1 ours"])
    # A number a claim lacks (a withdrawn claim's, a direction read off a figure) shows as a blank, not NaN.
    table = table.astype(object).where(table.notna(), "").replace({None: ""})
    return table.loc[:, (table != "").any()]


def show_claims(records: list[dict], digits: int = 1) -> pd.DataFrame:
    """Show judged claims as a chapter does: their dot plot (:func:`reidlib.viz.plot_claims`: the paper's
    difference beside ours and its interval) is displayed, and their :func:`claims_table` returned for the
    cell to show below it."""
    import matplotlib.pyplot as plt
    from IPython.display import display

    from .viz import plot_claims

    figure = plot_claims(records)
    display(figure)
    plt.close(figure)
    return claims_table(records, digits)


@dataclass(frozen=True)
class Withdrawn:
    """A result that cannot be shown: what it is and why (rule v2 shows it as *withdrawn*, never as a verdict)."""

    what: str
    reason: str

    def record(self) -> dict:
        return {"result": self.what, "reason": self.reason}


# Why the background variants' random-background scores of earlier runs are gone.
LEAKY_RANDOM_BACKGROUND = ("the random-background test set shared background crops between query and gallery "
                           "images of the same index (an identity leak, fixed with rule v2); the run's record has no "
                           "score on the leak-free test set and its weights are not kept, so it is retrained by the "
                           "chapter issues")


def evaluate_or_withdraw(run: dict, test: list[str] | dict | None, what: str, reason: str | None = None,
                         device: str = "auto") -> dict | Withdrawn:
    """:func:`reidlib.engine.records.evaluate_run`, or :class:`Withdrawn` where it cannot be computed here.

    A score is computed from the run's weights or read from its record; where
    neither is on this machine (a records-only execution, or a run folder
    gone with its machine) the result is withdrawn with ``reason`` (default:
    the error's own words) rather than left out silently.
    """
    from .engine.records import MissingRunError, evaluate_run

    try:
        return evaluate_run(run, test, device=device)
    except MissingRunError as err:
        return Withdrawn(what, reason or str(err))


def verdict_sentence(records: list[dict] | pd.DataFrame) -> str:
    """How many judged claims got each verdict, as prose: ``"3 reproduced, 1 inconclusive"``.

    Chapters glue this into their text, so that no verdict word is typed by hand.
    """
    from .claims import VERDICTS

    verdicts = pd.DataFrame(records)["verdict"] if len(records) else pd.Series([], dtype=str)
    counts = verdicts.value_counts()
    unknown = set(counts.index) - set(VERDICTS)
    if unknown:
        raise ValueError(f"verdicts {sorted(unknown)} are not rule v2's {VERDICTS}")
    parts = [f"{counts[v]} {v}" for v in VERDICTS if counts.get(v, 0)]
    return ", ".join(parts) if parts else "no claims judged"


# Scores a result keeps for the verdict rule: the metrics, the query count and the per-query scores.
SCORE_KEYS = ("rank1", "rank5", "mAP", "mINP", "num_valid_queries", "per_query")


def scores_on(results: list[dict], tests: dict[str, dict], what: str, device: str = "auto",
              reasons: dict[str, str] | None = None) -> tuple[dict[str, list[dict]], dict[str, Withdrawn]]:
    """The runs ``results`` (one variant's seeds) tested on each of ``tests`` (name -> ``load_run`` settings).

    Returns ``({test: [scores per seed]}, {test: Withdrawn})``: a test is
    withdrawn as a whole when any seed's score can be neither read from its
    record nor computed here (:func:`evaluate_or_withdraw`). A random-background
    test's reason defaults to :data:`LEAKY_RANDOM_BACKGROUND`; ``reasons``
    (test -> reason) overrides it.
    """
    out: dict[str, list[dict]] = {}
    gone: dict[str, Withdrawn] = {}
    for name, test in tests.items():
        leaky = dict(test).get("data.test_background") == "random_background"
        reason = (reasons or {}).get(name, LEAKY_RANDOM_BACKGROUND if leaky else None)
        for r in results:
            s = evaluate_or_withdraw(r, test, f"{what}, tested on {name}", reason, device=device)
            if isinstance(s, Withdrawn):
                gone[name] = s
            else:
                out.setdefault(name, []).append({"seed": r["seed"], **{k: s[k] for k in SCORE_KEYS if k in s}})
    return {t: v for t, v in out.items() if t not in gone}, gone
