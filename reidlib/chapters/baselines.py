"""The baselines chapter: the four baselines' configurations, their scores over seeds and the papers' own settings.

Every method of the five papers is a change to one of four baselines (``ide``, ``global_local``,
``mscan_body``, ``dgd``). The notebook ``notebooks/baselines.ipynb`` trains them over the same seeds
through :func:`reidlib.engine.run_seeds` and calls these functions for its tables and glued sentences.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..engine import paper_settings
from ..engine.optim import lr_factor
from ..engine.profiles import paper_settings_rows
from ..models.registry import build_model
from ..papers import reported

METRICS = ("rank1", "mAP", "mINP")
# How the glued sentence names each baseline.
NAMES = {"ide": "the IDE baseline", "global_local": "FTN's global + local baseline", "mscan_body": "MSCAN-body",
         "dgd": "the DGD-style network"}


def describe(cfg, num_ids: int, num_cameras: int) -> dict:
    """One row of the configurations table for ``cfg`` (a :class:`~reidlib.engine.TrainConfig`).

    The model is built for ``num_ids`` identities and ``num_cameras`` cameras (the training set's), to
    count its parameters. Returns backbone, parameters (M), input, batch (P x K), epochs, optimiser, losses.
    """
    model = build_model(cfg, num_ids, num_cameras)
    losses = ", ".join(f"{k} x {w:g}" for k, w in cfg.loss.weights.items() if w)
    return {"backbone": f"{cfg.model.backbone} (width {cfg.model.width:g})",
            "parameters (M)": sum(p.numel() for p in model.parameters()) / 1e6,
            "input": f"{cfg.data.height}x{cfg.data.width}",
            "batch (P x K)": f"{cfg.data.batch_size // cfg.data.num_instances} x {cfg.data.num_instances}",
            "epochs": cfg.schedule.epochs, "optimiser": f"{cfg.optim.name} {cfg.optim.lr:g}", "losses": losses}


def summary_rows(runs: dict[str, dict], seeds: list[int]) -> tuple[dict[str, dict], list[dict]]:
    """Per method, the mean and spread of its seeds' scores and its costs; methods lacking a seed are listed apart.

    ``runs`` maps a method to :func:`reidlib.engine.run_seeds`'s output. Returns ``(rows, withdrawn)``:
    ``rows[method]`` holds ``rank1 mean`` / ``rank1 std`` (and mAP, mINP), ``train minutes``, ``images/s``
    and ``data wait``; ``withdrawn`` holds a ``{"result", "reason"}`` record per method without every seed.
    """
    rows, withdrawn = {}, []
    for m, out in runs.items():
        if len(out["runs"]) < len(seeds):  # a records-only execution finds no record of some seeds
            withdrawn.append({"result": f"{m}: the baseline's runs",
                              "reason": f"{len(out['runs'])} of {len(seeds)} seeds have a run record (trained before "
                                        "records were kept); retrained by the chapter issues"})
            continue
        s = out["summary"]
        rows[m] = {**{f"{k} mean": s[k]["mean"] for k in METRICS},
                   **{f"{k} std": s[k]["std"] for k in METRICS},
                   "train minutes": np.mean([r["train_seconds"] for r in out["runs"]]) / 60,
                   "images/s": np.mean([r["images_per_second"] for r in out["runs"]]),
                   "data wait": np.mean([r["data_wait_share"] for r in out["runs"]])}
    return rows, withdrawn


def per_seed_records(runs: dict[str, dict], methods, field: str, keys: tuple[str, ...]) -> dict[str, list[list[dict]]]:
    """``keys`` of each entry of every run's ``field`` (``history`` or ``evals``), method -> per seed -> entries.

    Only the methods in ``methods`` (those with every seed) are kept.
    """
    return {m: [[{k: entry[k] for k in keys} for entry in r[field]] for r in out["runs"]]
            for m, out in runs.items() if m in methods}


def reached_sentence(table: pd.DataFrame, withdrawn: list[dict], methods: list[str]) -> str:
    """The glued sentence of what each baseline reached: rank-1 and mAP, or why it has no numbers.

    ``table``: :func:`summary_rows`'s rows as a frame (method -> row); ``withdrawn``: its withdrawn records.
    """
    gone = {w["result"].split(":")[0]: w for w in withdrawn}
    return "; ".join(
        f"{NAMES.get(m, m)} {table.loc[m, 'rank1 mean']:.1%} rank-1 and {table.loc[m, 'mAP mean']:.1%} mAP"
        if m in table.index
        else f"{NAMES.get(m, m)}: no numbers ({gone[m]['reason'] if m in gone else 'not run'})" for m in methods)


def summary_view(table: pd.DataFrame) -> pd.DataFrame:
    """The summary as shown: mean ± std in percent per metric, train minutes, images/s and data wait, as text."""
    view = pd.DataFrame({k: [f"{100 * a:.1f} ± {100 * b:.1f}" for a, b in zip(table[f"{k} mean"], table[f"{k} std"])]
                         for k in METRICS}, index=table.index)
    view["train minutes"] = table["train minutes"].map("{:.1f}".format)
    view["images/s"] = table["images/s"].map("{:.0f}".format)
    view["data wait"] = table["data wait"].map("{:.1%}".format)
    return view


def reported_rows(method: str, paper: str, references: list[dict]) -> list[dict]:
    """The baseline's numbers as ``paper`` reports them: one row per table, row and dataset of ``references``.

    ``references`` are the ``reported`` entries of :func:`reidlib.engine.paper_settings` (``table``, ``row``).
    Each row holds method, paper, table, row, dataset, ``rank-1 (%)`` (None if not reported) and
    ``mAP (%)`` (NaN if not reported).
    """
    rows = []
    for ref in references:
        rep = reported(paper, ref["table"], ref["row"])
        for (dataset_name, table_id, row), g in rep.groupby(["dataset", "table", "row"], sort=False):
            vals = dict(zip(g["metric"], g["value"]))
            rows.append({"method": method, "paper": paper, "table": table_id, "row": row,
                         "dataset": dataset_name, "rank-1 (%)": vals.get("rank1"),
                         "mAP (%)": vals.get("mAP", float("nan"))})
    return rows


def paper_rows(methods: list[str]) -> tuple[list[dict], list[dict]]:
    """For every paper each method belongs to: ``(its settings with their sources, its reported numbers)``."""
    setting_rows, reported_ = [], []
    for m in methods:
        for paper, spec in paper_settings(m).items():
            setting_rows += [{"method": m, "paper": paper, **row} for row in paper_settings_rows(m, paper)]
            reported_ += reported_rows(m, paper, spec["reported"])
    return setting_rows, reported_


def lr_curve(cfg) -> list[float]:
    """The learning rate of every epoch of ``cfg``'s schedule, stage after stage (a stage's own settings first)."""
    s = cfg.schedule
    stages = s.stages or [None]
    lrs = []
    for st in stages:
        epochs = st.epochs if st and st.epochs else s.epochs
        lr = st.lr if st and st.lr else cfg.optim.lr
        ms = st.milestones if st and st.milestones is not None else s.milestones
        wu = st.warmup_epochs if st and st.warmup_epochs is not None else s.warmup_epochs
        lrs += [lr * lr_factor(e, wu, s.warmup_factor, ms, s.gamma) for e in range(epochs)]
    return lrs
