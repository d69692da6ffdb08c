"""Every method under one protocol: the comparison chapter's entries and measurements.

Each entry is a method at its full setting, exactly as its chapter trains
it (same overrides, so the runs are shared and a chapter's ``cpu`` study
also feeds this one), plus what it needs besides identity labels and which
of its test-time outputs is a spatial attention map. All entries train on
the same data, at the same profile (schedule length, batch and evaluation);
the backbones and input sizes are the papers' own, thinned alike (128 x 64,
64 x 32 for the Inception net of person-region pooling), and the table
reports what each costs at inference so that a gain can be weighed against it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .ablation import run_configs
from .engine import make_config
from .claims import CALLS, compare
from .data import ReIDDataset
from .eval import evaluate_rank, tracklet_records
from .models import fanet, ftn, mgcam

# Random backgrounds for augmentation: empty scenes of a SynthReID family no test set is drawn from.
BACKGROUND_POOL = "synth-scenes:C"


def _options(row: dict) -> tuple[str, ...]:
    return tuple(f"model.options.{k}={v}" for k, v in row.items())


@dataclass(frozen=True)
class Entry:
    """One column of the comparison: a method at one setting."""

    label: str
    method: str
    overrides: tuple[str, ...] = ()
    supervision: str = "identities"  # what training needs besides images
    attention: str | None = None  # eval output key of its (B, 1, h, w) attention map, if any
    test_masks: bool = False  # reads a mask of every test image (so a new test set needs a mask tree)


ENTRIES = (
    Entry("baseline (IDE)", "ide"),
    Entry("FA-Net", "fanet", _options(fanet.ABLATION_ROWS["FA-Net"]), "identities, camera IDs", "zf"),
    Entry("FTN", "ftn", _options(ftn.ABLATION_ROWS["(g)"]), "identities", "cfa"),
    # Without augmentation, said outright: the gpu profile's bgbias is the paper's own model, which has it.
    Entry("person-region pooling", "bgbias", ("data.random_background_p=0.0", "data.background_pool=null"),
          "identities, part masks", test_masks=True),
    Entry("person-region pooling + random backgrounds", "bgbias",
          ("data.random_background_p=0.5", f"data.background_pool={BACKGROUND_POOL}"),
          "identities, part masks, background images", test_masks=True),
    Entry("MGCAM", "mgcam", tuple(mgcam.overrides("MGCAM RGB-M")), "identities, person masks (also at test time)",
          "body_map", test_masks=True),
    Entry("FMN", "fmn", ("model.options.masked_layer=pool1",), "identities", "mask_normalised"),
)
BASELINE = ENTRIES[0].label


def entry(label: str) -> Entry:
    for e in ENTRIES:
        if e.label == label:
            return e
    raise KeyError(f"no entry {label!r}; the entries are {[e.label for e in ENTRIES]}")


def run_entries(profile: str, seeds: list[int], dataset: str | None = None, common: list[str] = (),
                entries: tuple[Entry, ...] = ENTRIES) -> dict[str, list[dict]]:
    """Train (or reuse) every entry over ``seeds``: ``label -> [results per seed]``."""
    return run_configs({e.label: make_config(e.method, profile, dataset, overrides=[*common, *e.overrides])
                        for e in entries}, seeds)


def differences(runs: dict[str, list[dict]], metric: str, baseline: str = BASELINE) -> pd.DataFrame:
    """Each entry minus the baseline, seed by seed, judged by the book's rule (points, direction +1).

    ``verdict`` reads: *better* (reproduced as "beats the baseline"), *worse*
    (the opposite beyond twice the standard error) or *no difference called*.
    """
    base = {r["seed"]: r[metric] for r in runs[baseline]}
    rows = []
    for label, results in runs.items():
        if label == baseline:
            continue
        mine = {r["seed"]: r[metric] for r in results}
        seeds = sorted(set(base) & set(mine))
        res = compare([100 * base[s] for s in seeds], [100 * mine[s] for s in seeds], None, +1)
        rows.append({"entry": label, "metric": metric, "difference": res["ours"], "± se": res["se"],
                     "seeds": res["n"], "verdict": CALLS[res["verdict"]]})
    return pd.DataFrame(rows).set_index("entry")


def drops(scores: pd.DataFrame, reference: str = "original") -> pd.DataFrame:
    """Mean and std over seeds of each test variant's metric minus ``reference``'s, per entry (points).

    ``scores`` has columns ``entry``, ``seed``, ``test`` and the metrics.
    """
    metrics = [c for c in scores.columns if c not in ("entry", "seed", "test")]
    ref = scores.loc[scores["test"] == reference, ["entry", "seed", *metrics]]
    delta = scores[scores["test"] != reference].merge(ref, on=["entry", "seed"], suffixes=("", " ref"))
    for m in metrics:
        delta[m] = 100 * (delta[m] - delta[f"{m} ref"])
    return delta.groupby(["entry", "test"], sort=False)[metrics].agg(["mean", "std"])


def mean_std_table(per_seed: dict[str, list[dict]], metrics: tuple[str, ...]) -> pd.DataFrame:
    """``label -> per-seed dicts`` as a table of "mean ± std" strings in percent."""
    rows = {}
    for label, results in per_seed.items():
        row = {}
        for m in metrics:
            v = 100 * np.array([r[m] for r in results], dtype=float)
            row[m] = f"{v.mean():.1f} ± {v.std(ddof=1) if len(v) > 1 else 0.0:.1f}"
        rows[label] = row
    return pd.DataFrame(rows).T


def retest(runs: dict[str, list[dict]], tests: dict[str, dict], device: str = "auto",
           metrics: tuple[str, ...] = ("rank1", "mAP"), test_mask_root: str | None = None) -> pd.DataFrame:
    """Evaluate every trained run again under each test setting (``label -> load_run overrides``).

    ``test_mask_root``: the mask tree of a new test set, given (as
    ``data.test_mask_root``) only to the entries that read test masks
    (:attr:`Entry.test_masks`; ``runs`` is then keyed by entry labels). The
    others load no masks, and the config check refuses a mask setting that
    would change nothing.

    Returns one row per entry, seed and test: ``entry``, ``seed``, ``test`` and ``metrics``.
    """
    from .engine.records import evaluate_run

    rows = []
    for label, results in runs.items():
        masks = {"data.test_mask_root": str(test_mask_root)} if test_mask_root and entry(label).test_masks else {}
        for r in results:
            for test, overrides in tests.items():
                scores = evaluate_run(r, {**overrides, **masks}, device=device)
                rows.append({"entry": label, "seed": r["seed"], "test": test, **{m: scores[m] for m in metrics}})
    return pd.DataFrame(rows)


def _per_entry(rows, metric: str) -> dict[str, list[dict]]:
    """``entry -> [{"seed", metric}]`` from rows that carry ``entry``, ``seed`` and ``metric``."""
    out: dict[str, list[dict]] = {}
    for r in rows:
        out.setdefault(r["entry"], []).append({"seed": r["seed"], metric: float(r[metric])})
    return out


def _test_change(records: list[dict], test: str, reference: str, metric: str) -> dict[str, list[dict]]:
    """``entry -> [{"seed", metric}]``: ``test``'s metric minus ``reference``'s, seed by seed (fractions)."""
    pivot = pd.DataFrame(records).pivot_table(index=["entry", "seed"], columns="test", values=metric, sort=False)
    change = (pivot[test] - pivot[reference]).dropna().rename(metric)
    return _per_entry(change.reset_index().to_dict(orient="records"), metric)


def question_calls(shown: dict, metric: str = "rank1", baseline: str = BASELINE) -> pd.DataFrame:
    """Every entry against the baseline on each of the chapter's questions, by the book's rule.

    ``shown`` is the chapter's results (as saved). The questions, where
    ``shown`` has the results they need (points; paired by seed; positive =
    better than the baseline):

    * *accuracy*: the entry's ``metric`` minus the baseline's;
    * *random-background drop*: how much less the entry loses on
      random-background test images than the baseline does;
    * *unseen-scenes drop*: the same for test scenes of an unseen family;
    * *real data*: trained and tested on the real dataset;
    * *transfer*: trained on SynthReID, tested on the real dataset.

    Returns one row per entry and question (entries in the table's order, an
    entry without runs paired with the baseline's left out): ``entry``,
    ``question``, ``difference``, ``± se``, ``seeds`` and ``verdict``, which
    is *better*, *worse* or *no difference called* (:func:`differences`).
    """
    questions: dict[str, dict[str, list[dict]]] = {"accuracy": shown["main"]}
    if shown.get("robustness"):
        questions["random-background drop"] = _test_change(shown["robustness"], "random_background", "original", metric)
    if shown.get("unseen"):
        questions["unseen-scenes drop"] = _test_change(shown["unseen"], "unseen scenes", "same scenes", metric)
    real = shown.get("real") or {}
    if real.get("trained"):
        questions["real data"] = real["trained"]
    if real.get("transfer"):
        questions["transfer"] = _per_entry(real["transfer"], metric)
    known = [e.label for e in ENTRIES]  # the table's order (saved results have their keys sorted)
    frames = []
    for question, per_seed in questions.items():
        if not any(per_seed.values()):  # e.g. a partial run before any real-data run is trained
            continue
        if baseline not in per_seed:
            raise KeyError(f"{question}: no results of the baseline {baseline!r}; the entries are {list(per_seed)}")
        d = differences(per_seed, metric, baseline).reset_index()
        frames.append(d[d["seeds"] > 0].drop(columns="metric").assign(question=question))
    calls = pd.concat(frames, ignore_index=True)
    rank = calls["entry"].map(lambda label: known.index(label) if label in known else len(known))
    calls = calls.assign(_rank=rank).sort_values("_rank", kind="stable").drop(columns="_rank")
    return calls[["entry", "question", "difference", "± se", "seeds", "verdict"]].reset_index(drop=True)


def verdicts(calls: pd.DataFrame) -> pd.DataFrame:
    """:func:`question_calls` as a table: an entry per row, a question per column.

    Each cell reads "verdict (difference ± se)"; a question an entry has no
    paired runs for is empty (NaN).
    """
    cells = calls.assign(cell=[f"{v} ({d:+.1f} ± {s:.1f})"
                               for v, d, s in zip(calls["verdict"], calls["difference"], calls["± se"])])
    table = cells.pivot(index="entry", columns="question", values="cell")
    table = table.reindex(index=pd.unique(calls["entry"]), columns=pd.unique(calls["question"]))
    table.columns.name = None
    return table.rename_axis("entry")


def dial_changes(dial: list[dict], metric: str = "rank1") -> pd.DataFrame:
    """Each entry's ``metric`` at the largest ``bg_share`` minus at the smallest, by the book's rule.

    ``dial`` holds ``{"bg_share", "entry", "seed", metric}`` rows. The
    verdict says whether accuracy *rises* or *falls* as the shared background
    grows, or *no change called*, paired by seed.
    """
    frame = pd.DataFrame(dial)
    low, high = frame["bg_share"].min(), frame["bg_share"].max()
    if low == high:
        raise ValueError(f"the bias dial needs two bg_share settings; all rows have {low}")
    words = {"reproduced": "rises", "not reproduced": "falls", "inconclusive": "no change called"}
    rows = []
    for label, rows_of in frame.groupby("entry", sort=False):
        at = {share: dict(zip(g["seed"], g[metric])) for share, g in rows_of.groupby("bg_share")}
        seeds = sorted(set(at.get(low, {})) & set(at.get(high, {})))
        before, after = ([100 * at[share][s] for s in seeds] for share in (low, high))
        res = compare(before, after, None, +1)
        rows.append({"entry": label, f"bg_share {low:g}": np.mean(before) if seeds else np.nan,
                     f"bg_share {high:g}": np.mean(after) if seeds else np.nan,
                     "change": res["ours"], "± se": res["se"], "seeds": res["n"], "verdict": words[res["verdict"]]})
    return pd.DataFrame(rows).set_index("entry")


def chance_rank1(data: ReIDDataset, draws: int = 20, seed: int = 0, protocol: str = "market") -> float:
    """Rank-1 of a model that ranks the gallery at random (a fraction), by the library's evaluation.

    The mean over ``draws`` random (Q, G) distance matrices, scored with
    :func:`reidlib.eval.evaluate_rank` as the trainer scores a model, so the
    protocol's junk and same-camera rules count exactly as they do there (a
    video dataset is ranked by tracklet, one record standing for each).
    """
    query, gallery = ((tracklet_records(split) if data.is_video else split) for split in (data.query, data.gallery))
    qids, gids = [r.pid for r in query], [r.pid for r in gallery]
    qcams, gcams = [r.camid for r in query], [r.camid for r in gallery]
    rng = np.random.default_rng(seed)
    return float(np.mean([evaluate_rank(rng.random((len(qids), len(gids))), qids, gids, qcams, gcams,
                                        protocol=protocol)["cmc"][0] for _ in range(draws)]))


def identity_learning(results: list[dict], data: ReIDDataset, term: str = "id") -> list[dict]:
    """How far identity training got in each run, beside what guessing scores.

    ``results`` are one method's runs on ``data`` (each with its training
    ``history`` and ``config``); ``term`` is the history's identity
    cross-entropy of one classifier (the baseline's ``"id"``; some methods log
    a sum of several). One row per run: the term at the first and last epoch,
    ``ln(N)`` for the ``N`` training identities (the loss of a uniform guess,
    where training starts), the run's test rank-1 and :func:`chance_rank1` of
    ``data`` under the run's evaluation protocol.
    """
    uniform = math.log(data.num_train_pids)
    chance: dict[str, float] = {}
    rows = []
    for r in results:
        epochs = [h for h in r.get("history", ()) if h.get("kind") == "epoch" and term in h]
        if not epochs:
            raise KeyError(f"the run of seed {r.get('seed')} has no {term!r} loss in its training history; "
                           f"pass the term its method logs as term=")
        protocol = r["config"]["eval"].get("protocol") or "market"  # the trainer's default
        if protocol not in chance:
            chance[protocol] = chance_rank1(data, protocol=protocol)
        rows.append({"dataset": data.name, "seed": r["seed"], "first epoch": epochs[0][term],
                     "last epoch": epochs[-1][term], "uniform guess ln(N)": uniform,
                     "rank1": r["rank1"], "chance rank1": chance[protocol]})
    return rows


def learning_table(rows: list[dict]) -> pd.DataFrame:
    """:func:`identity_learning` rows averaged per dataset over seeds, with what they mean.

    Adds ``loss fall (% of ln N)``, how much of the way from a uniform guess
    to zero loss training went, and ``times chance``, rank-1 over chance
    rank-1; rank-1 and chance rank-1 in percent. Empty without rows.
    """
    if not rows:
        return pd.DataFrame()
    table = pd.DataFrame(rows).groupby("dataset", sort=False).mean().drop(columns="seed")
    table["loss fall (% of ln N)"] = 100 * (table["first epoch"] - table["last epoch"]) / table["uniform guess ln(N)"]
    table["times chance"] = table["rank1"] / table["chance rank1"]
    table[["rank1", "chance rank1"]] *= 100
    return table[["first epoch", "last epoch", "uniform guess ln(N)", "loss fall (% of ln N)",
                  "rank1", "chance rank1", "times chance"]]  # (saved records come back with their keys sorted)
