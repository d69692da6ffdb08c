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
import textwrap
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .ablation import run_configs
from .claims import CALLS, NOT_TESTABLE, compare, learned, sampling_variance
from .data import ReIDDataset
from .engine import make_config
from .eval import chance_rank1
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


def _test_var(without: dict, with_: dict, metric: str) -> float:
    """The test set's sampling variance (points²) of ``with_ - without`` for one seed.

    Rows of a change between two test sets (:func:`_test_change`) carry their
    own ``test_var``; evaluations carry what :func:`reidlib.claims.sampling_variance` needs.
    """
    if "test_var" in without or "test_var" in with_:
        return without.get("test_var", 0.0) + with_.get("test_var", 0.0)
    return sampling_variance(without, with_, metric)[0]


def differences(runs: dict[str, list[dict]], metric: str, baseline: str = BASELINE) -> pd.DataFrame:
    """Each entry minus the baseline, seed by seed, judged by the book's rule (points, direction +1).

    ``verdict`` reads: *better* (reproduced as "beats the baseline"), *worse*
    (the 95 % interval below zero) or *no difference called*. The interval
    includes the test set's sampling error (rule v2, :mod:`reidlib.claims`).
    """
    base = {r["seed"]: r for r in runs[baseline]}
    rows = []
    for label, results in runs.items():
        if label == baseline:
            continue
        mine = {r["seed"]: r for r in results}
        seeds = sorted(set(base) & set(mine))
        test_var = float(np.mean([_test_var(base[s], mine[s], metric) for s in seeds])) if seeds else 0.0
        res = compare([100 * base[s][metric] for s in seeds], [100 * mine[s][metric] for s in seeds], None, +1,
                      test_var=test_var)
        rows.append({"entry": label, "metric": metric, "difference": res["ours"], "low": res["low"],
                     "high": res["high"], "seeds": res["n"], "verdict": CALLS[res["verdict"]]})
    return pd.DataFrame(rows).set_index("entry")


def drops(scores: pd.DataFrame, reference: str = "original") -> pd.DataFrame:
    """Mean and std over seeds of each test variant's metric minus ``reference``'s, per entry (points).

    ``scores`` has columns ``entry``, ``seed``, ``test`` and the metrics.
    """
    metrics = [c for c in scores.columns if c not in ("entry", "seed", "test", "num_valid_queries", "withdrawn")]
    scores = scores.dropna(subset=metrics)  # withdrawn retests
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
           metrics: tuple[str, ...] = ("rank1", "mAP"), test_mask_root: str | None = None,
           reasons: dict[str, str] | None = None) -> pd.DataFrame:
    """Evaluate every trained run again under each test setting (``label -> load_run overrides``).

    ``test_mask_root``: the mask tree of a new test set, given (as
    ``data.test_mask_root``) only to the entries that read test masks
    (:attr:`Entry.test_masks`; ``runs`` is then keyed by entry labels). The
    others load no masks, and the config check refuses a mask setting that
    would change nothing.

    A score that can be neither read from the run's record nor computed here
    is withdrawn (:func:`reidlib.ablation.evaluate_or_withdraw`): its row has
    NaN metrics and the reason in ``withdrawn`` (``reasons[test]`` where given).

    Returns one row per entry, seed and test: ``entry``, ``seed``, ``test``, ``metrics``,
    ``num_valid_queries`` (for the verdict rule's test-set error) and ``withdrawn``.
    """
    from .ablation import Withdrawn, evaluate_or_withdraw

    rows = []
    for label, results in runs.items():
        masks = {"data.test_mask_root": str(test_mask_root)} if test_mask_root and entry(label).test_masks else {}
        for r in results:
            for test, overrides in tests.items():
                scores = evaluate_or_withdraw(r, {**overrides, **masks}, f"{label}, seed {r['seed']}, {test}",
                                              (reasons or {}).get(test), device=device)
                if isinstance(scores, Withdrawn):
                    rows.append({"entry": label, "seed": r["seed"], "test": test, **{m: np.nan for m in metrics},
                                 "num_valid_queries": np.nan, "withdrawn": scores.reason})
                    continue
                rows.append({"entry": label, "seed": r["seed"], "test": test, **{m: scores[m] for m in metrics},
                             "num_valid_queries": scores["num_valid_queries"], "withdrawn": None})
    return pd.DataFrame(rows)


def withdrawn_tests(rows: pd.DataFrame | list[dict]) -> list[dict]:
    """The withdrawn retests of :func:`retest` rows, one record per entry and test (``result``, ``reason``)."""
    frame = pd.DataFrame(rows)
    if frame.empty or "withdrawn" not in frame:
        return []
    gone = frame[frame["withdrawn"].notna()]
    return [{"result": f"{e}: {t} test", "reason": g["withdrawn"].iloc[0]}
            for (e, t), g in gone.groupby(["entry", "test"], sort=False)]


def _per_entry(rows, metric: str) -> dict[str, list[dict]]:
    """``entry -> [{"seed", metric, ...}]`` from rows that carry ``entry``, ``seed`` and ``metric``.

    ``num_valid_queries`` and ``test_var`` come along where the rows have them
    (the verdict rule's test-set error needs them).
    """
    out: dict[str, list[dict]] = {}
    for r in rows:
        keep = {k: r[k] for k in ("num_valid_queries", "test_var") if k in r and r[k] == r[k]}
        out.setdefault(r["entry"], []).append({"seed": r["seed"], metric: float(r[metric]), **keep})
    return out


def _test_change(records: list[dict], test: str, reference: str, metric: str) -> dict[str, list[dict]]:
    """``entry -> [{"seed", metric, "test_var"}]``: ``test``'s metric minus ``reference``'s, seed by seed (fractions).

    ``test_var`` is the binomial sampling variance (points²) of the two scores' difference.
    """
    frame = pd.DataFrame(records)
    if "num_valid_queries" not in frame:
        raise KeyError("test rows without num_valid_queries: re-run the chapter to rewrite them (rule v2 needs "
                       "the number of queries for the test set's error)")
    pivot = frame.pivot_table(index=["entry", "seed"], columns="test", values=[metric, "num_valid_queries"],
                              sort=False)
    if test not in pivot[metric] or reference not in pivot[metric]:  # withdrawn (see retest)
        return {}
    value, queries = pivot[metric], pivot["num_valid_queries"]
    binomial = lambda t: value[t].clip(0, 1) * (1 - value[t].clip(0, 1)) / queries[t]
    change = pd.DataFrame({metric: value[test] - value[reference],
                           "test_var": 1e4 * (binomial(test) + binomial(reference))}).dropna()
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
    ``question``, ``difference``, ``low`` / ``high`` (95 % interval), ``seeds``
    and ``verdict``, which is *better*, *worse* or *no difference called*
    (:func:`differences`), or *not testable here* where the baseline did not
    learn the dataset it was trained on (rule v2's floor, against the chance
    rank-1 of ``shown["real"]["learning"]``).
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
    # The rule's floor: a question is asked only where the baseline learned the data it was trained on
    # (rank-1 against chance_rank1 of that test set, from the chapter's identity_learning rows).
    chance = {r["dataset"]: r["chance rank1"] for r in real.get("learning", [])}
    trained_on = {"real data": real.get("dataset", "cuhk01")}
    known = [e.label for e in ENTRIES]  # the table's order (saved results have their keys sorted)
    frames = []
    for question, per_seed in questions.items():
        if not any(per_seed.values()):  # e.g. a partial run before any real-data run is trained
            continue
        if baseline not in per_seed:
            raise KeyError(f"{question}: no results of the baseline {baseline!r}; the entries are {list(per_seed)}")
        d = differences(per_seed, metric, baseline).reset_index()
        runs_of = questions["real data" if question == "real data" else "accuracy"][baseline]
        data = trained_on.get(question, shown.get("dataset"))
        if data in chance and runs_of and not learned(float(np.mean([r["rank1"] for r in runs_of])), chance[data]):
            d["verdict"] = NOT_TESTABLE
        frames.append(d[d["seeds"] > 0].drop(columns="metric").assign(question=question))
    calls = pd.concat(frames, ignore_index=True)
    rank = calls["entry"].map(lambda label: known.index(label) if label in known else len(known))
    calls = calls.assign(_rank=rank).sort_values("_rank", kind="stable").drop(columns="_rank")
    return calls[["entry", "question", "difference", "low", "high", "seeds", "verdict"]].reset_index(drop=True)


def verdicts(calls: pd.DataFrame) -> pd.DataFrame:
    """:func:`question_calls` as a table: an entry per row, a question per column.

    Each cell reads "verdict (difference [95 % interval])"; a question an
    entry has no paired runs for is empty (NaN).
    """
    cells = calls.assign(cell=[f"{v} ({d:+.1f} [{lo:+.1f}, {hi:+.1f}])" for v, d, lo, hi in
                               zip(calls["verdict"], calls["difference"], calls["low"], calls["high"])])
    table = cells.pivot(index="entry", columns="question", values="cell")
    table = table.reindex(index=pd.unique(calls["entry"]), columns=pd.unique(calls["question"]))
    table.columns.name = None
    return table.rename_axis("entry")


def dial_changes(dial: list[dict], metric: str = "rank1") -> pd.DataFrame:
    """Each entry's ``metric`` at the largest ``bg_share`` minus at the smallest, by the book's rule.

    ``dial`` holds ``{"bg_share", "entry", "seed", metric, "num_valid_queries"}``
    rows. The verdict says whether accuracy *rises* or *falls* as the shared
    background grows, or *no change called*, paired by seed; the two settings
    are different test sets, so their binomial errors add.
    """
    frame = pd.DataFrame(dial)
    low, high = frame["bg_share"].min(), frame["bg_share"].max()
    if low == high:
        raise ValueError(f"the bias dial needs two bg_share settings; all rows have {low}")
    words = {"reproduced": "rises", "not reproduced": "falls", "inconclusive": "no change called"}
    rows = []
    for label, rows_of in frame.groupby("entry", sort=False):
        at = {share: {r["seed"]: r for r in g.to_dict(orient="records")} for share, g in rows_of.groupby("bg_share")}
        seeds = sorted(set(at.get(low, {})) & set(at.get(high, {})))
        before, after = ([100 * at[share][s][metric] for s in seeds] for share in (low, high))
        test_var = float(np.mean([sampling_variance(at[low][s], at[high][s], metric)[0] for s in seeds])) if seeds else 0.0
        res = compare(before, after, None, +1, test_var=test_var)
        rows.append({"entry": label, f"bg_share {low:g}": np.mean(before) if seeds else np.nan,
                     f"bg_share {high:g}": np.mean(after) if seeds else np.nan,
                     "change": res["ours"], "low": res["low"], "high": res["high"], "seeds": res["n"],
                     "verdict": words[res["verdict"]]})
    return pd.DataFrame(rows).set_index("entry")


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


# --- The chapter's measurements, beyond the one table ---

# What the results file keeps of each run (the verdict rule's test-set error needs the query count).
KEPT_SCORES = ("seed", "rank1", "mAP", "mINP", "num_valid_queries")


def kept_scores(runs: dict[str, list[dict]]) -> dict[str, list[dict]]:
    """``label -> [results per seed]`` cut to :data:`KEPT_SCORES`, as the results file keeps them."""
    return {label: [{k: r[k] for k in KEPT_SCORES} for r in results] for label, results in runs.items()}


def variant_tests(pool: str = BACKGROUND_POOL) -> dict[str, dict]:
    """``load_run`` settings of the background-bias paper's four test variants (Fig. 3), for :func:`retest`."""
    from .bias import VARIANTS, variant_settings

    return {v: variant_settings(v, pool, train=False) for v in VARIANTS}


def plot_robustness(rows: list[dict], profile: str):
    """Bars of each entry's rank-1 (%, mean and sd over seeds) per test variant; ``rows`` from :func:`retest`.

    Withdrawn retests (NaN) are left out. Returns the figure.
    """
    import matplotlib.pyplot as plt  # (plotting libraries load only where a chapter draws)
    import seaborn as sns

    from .bias import LABELS

    plot = pd.DataFrame(rows).dropna(subset=["rank1"]).assign(
        rank1=lambda d: 100 * d["rank1"], test=lambda d: d["test"].map(LABELS),
        entry=lambda d: d["entry"].map(lambda s: "\n".join(textwrap.wrap(s, 16))))
    fig, ax = plt.subplots(figsize=(8, 3.4))
    sns.barplot(plot, x="entry", y="rank1", hue="test", errorbar="sd", ax=ax)
    ax.set(xlabel="", ylabel="rank-1 (%)", title=f"Rank-1 on the background variants ({profile} profile)")
    ax.tick_params(axis="x", labelsize=7)
    ax.legend(fontsize=7)
    return fig


def _dial_rows(runs: dict[str, list[dict]], bg_share: float | None) -> list[dict]:
    """``runs`` (label -> results per seed) as bias-dial rows at ``bg_share``: ``{"bg_share", "entry", ...}``."""
    return [{"bg_share": bg_share, "entry": label, **{k: r[k] for k in KEPT_SCORES}}
            for label, results in runs.items() for r in results]


def bias_dial(runs: dict[str, list[dict]], profile: str, seeds: list[int], dataset: str, common: list[str],
              bg_shares: list[float]) -> list[dict]:
    """Every entry at the dataset's own ``bg_share`` (``runs``) and trained again at each of ``bg_shares``.

    Returns rows ``{"bg_share", "entry"}`` plus :data:`KEPT_SCORES`, one per
    entry, setting and seed; none where ``dataset`` is not SynthReID (it has no
    such knob).
    """
    if not dataset.startswith("synth-"):
        return []
    from .data.synth.presets import make_config as synth_config

    dial = _dial_rows(runs, synth_config(dataset.removeprefix("synth-")).bg_share)
    for share in bg_shares:
        extra = [*common, f"data.dataset_options={{bg_share: {share}}}"]
        dial += _dial_rows(run_entries(profile, seeds, dataset, extra), share)
    return dial


def plot_dial(dial: list[dict], profile: str):
    """Rank-1 and mAP (%, mean and sd over seeds) of each entry against ``bg_share``. Returns the figure."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    d = pd.DataFrame(dial)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4), sharex=True)
    for ax, m in zip(axes, ("rank1", "mAP")):
        sns.lineplot(d.assign(**{m: 100 * d[m]}), x="bg_share", y=m, hue="entry", marker="o", errorbar="sd", ax=ax,
                     legend=m == "mAP")
        ax.set(xlabel="bg_share (shared background)", ylabel=f"{'rank-1' if m == 'rank1' else 'mAP'} (%)")
    axes[1].legend(fontsize=7, bbox_to_anchor=(1.02, 1), loc="upper left")
    fig.suptitle(f"Accuracy against shared background ({profile} profile, mean ± sd over seeds)")
    return fig


def dial_means(dial: list[dict]) -> pd.DataFrame:
    """Mean rank-1 and mAP (%) over seeds: an entry per row, a (metric, ``bg_share``) per column."""
    d = pd.DataFrame(dial)
    return (d.groupby(["entry", "bg_share"], sort=False)[["rank1", "mAP"]].mean() * 100).unstack("bg_share").round(1)


def localisation(runs: dict[str, list[dict]], device: str = "auto", synthetic: bool = True) -> list[dict]:
    """How well each entry's attention map finds the person, beside its rank-1 gain over the baseline.

    One row per entry with an attention map (:attr:`Entry.attention`) and
    seed: ``entry``, ``seed``, ``gain`` (rank-1 minus the baseline's of the
    same seed, points) and, on SynthReID (``synthetic``, whose masks are
    exact), the map's ``iou`` and ``contrast`` with the true person
    (:func:`reidlib.engine.records.attention_run_scores`).
    """
    from .engine.records import attention_run_scores

    base = {r["seed"]: r["rank1"] for r in runs[BASELINE]}
    rows = []
    for e in ENTRIES:
        if e.attention is None:
            continue
        for r in runs[e.label]:
            s = attention_run_scores(r, e.attention, device=device) if synthetic else {}
            rows.append({"entry": e.label, "seed": r["seed"], "gain": 100 * (r["rank1"] - base[r["seed"]]),
                         **{k: s[k] for k in ("iou", "contrast") if k in s}})
    return rows


def plot_localisation(loc: pd.DataFrame):
    """Rank-1 gain over the baseline against attention IoU, a point per entry and seed. Returns the figure."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    sns.scatterplot(loc, x="iou", y="gain", hue="entry", ax=ax)
    ax.axhline(0, color="grey", lw=0.8)
    ax.set(xlabel="attention IoU with the person", ylabel="rank-1 gain over the baseline (points)")
    ax.legend(fontsize=7)
    return fig


def real_data(runs: dict[str, list[dict]], profile: str, seeds: list[int], dataset: str, data_root: str | None,
              real_dataset: str, real_root, common: list[str], device: str, withdrawn: list[dict]) -> dict:
    """The real dataset's part of the chapter: the SynthReID runs tested on it, and every entry trained on it.

    ``runs`` are the entries' runs on ``dataset``; ``real_root`` holds
    ``real_dataset``, whose masks and parts come from the study's person
    segmenter. The withdrawn transfer tests are appended to ``withdrawn``
    before any real-data run is trained. Returns ``{"transfer": retest rows,
    "trained": label -> kept scores per seed, "learning": identity_learning
    rows of the baseline on both datasets}``.
    """
    from .data.catalog import open_dataset
    from .data.segment import cached_masks

    real = {}
    masks = cached_masks(real_root, real_dataset, progress=profile != "ci")
    # The transfer test first: it needs only the SynthReID runs above, so a partial run
    # (python -m reidlib.notebooks --partial) records it before any CUHK01 run is trained.
    transfer = retest(runs, {"CUHK01": {"data.test_dataset": real_dataset, "data.test_data_root": str(real_root)}},
                      device, test_mask_root=masks)  # (masks only for the entries that read them)
    real["transfer"] = transfer.to_dict(orient="records")
    withdrawn.extend(withdrawn_tests(transfer))
    extra = [*common, f"data.data_root={real_root}", f"data.mask_root={masks}"]
    real_runs = run_entries(profile, seeds, real_dataset, extra)
    real["trained"] = kept_scores(real_runs)
    # How far the baseline, the reference of every verdict, learned on each dataset.
    real["learning"] = (identity_learning(runs[BASELINE], open_dataset(dataset, data_root))
                        + identity_learning(real_runs.get(BASELINE, []), open_dataset(real_dataset, real_root)))
    return real
