"""Ablations: named variants of one method, trained over the same seeds, tabulated and judged.

A chapter lists its variants as ``--set`` overrides of one method and the
paper's claims as pairs of variants; these helpers train the runs (finished
runs are reused), put mean and spread in a table, and apply the book's
verdict rule (:mod:`reidlib.claims`) to each claim.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from .claims import compare
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

    A claim read off a figure gives ``paper_delta=None`` and its ``direction`` (+1 / -1).
    A claim that the effect is small ("costs a little") gives its bound ``at_most``
    in points (see :func:`reidlib.claims.compare`); say the bound in the label.
    """

    label: str
    without: str
    with_: str
    metric: str
    paper_delta: float | None
    direction: int = 0
    at_most: float | None = None


def judge(runs: dict[str, list[dict]], claims: list[Claim]) -> pd.DataFrame:
    """One row per claim: the paper's difference, ours (mean and standard error, points) and the verdict."""
    rows = []
    for c in claims:
        a = {r["seed"]: r[c.metric] for r in runs[c.without]}
        b = {r["seed"]: r[c.metric] for r in runs[c.with_]}
        seeds = sorted(set(a) & set(b))
        res = compare([100 * a[s] for s in seeds], [100 * b[s] for s in seeds], c.paper_delta, c.direction, c.at_most)
        rows.append({"claim": c.label, "metric": c.metric, "paper": res["paper"], "ours": res["ours"],
                     "± se": res["se"], "seeds": res["n"], "verdict": res["verdict"]})
    return pd.DataFrame(rows).set_index("claim")


CLAIM_COLUMNS = ("metric", "paper", "ours", "± se", "seeds", "verdict")


def claims_table(records: list[dict], digits: int = 2) -> pd.DataFrame:
    """Judged claims as a chapter shows them: one row per claim, differences in points to ``digits``.

    ``records`` are :func:`judge` rows as a results file stores them (a list
    of dicts with a ``claim`` key; JSON sorts their keys, so the columns are
    put back in :func:`judge`'s order here).
    """
    table = pd.DataFrame(records).set_index("claim")
    table = table[[c for c in CLAIM_COLUMNS if c in table] + [c for c in table if c not in CLAIM_COLUMNS]]
    return table.round({c: digits for c in ("paper", "ours", "± se") if c in table})
