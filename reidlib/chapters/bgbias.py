"""The background-bias chapter: Fig. 3's findings, Table 2, the augmentation probability, Table 3 and the bias dial.

*Eliminating Background-Bias for Robust Person Re-Identification* (Tian et
al., CVPR 2018; the study's seed file ``002``) trains one network on each of
four versions of the same images (original, background-only,
mean-background, random-background) and tests every model on every version
(its Fig. 3, run here by :func:`reidlib.bias.influence_study`). This module
turns those runs into the chapter's claims, tables and glued numbers; the
notebook ``notebooks/bgbias.ipynb`` sets the parameters, trains through it
and shows what it returns.

Functions that test runs take a ``withdrawn`` list and append to it every
score that cannot be shown (:class:`reidlib.ablation.Withdrawn`), in the
order they meet them: the chapter saves that list as ``results["withdrawn"]``.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from ..ablation import Claim, Withdrawn, judge, mean_std, metric_table, run_variants, scores_on, verdict_sentence
from ..bias import LABELS, VARIANTS, influence_matrix, influence_study, variant_settings
from ..claims import LEARNED_TIMES_CHANCE, NOT_TESTABLE, WITHDRAWN, learned
from ..data.catalog import open_dataset
from ..eval import chance_rank1
from ..models.bgbias import ABLATION_ROWS
from ..papers import value

# Random backgrounds: empty scenes of a family no dataset here is drawn from (the paper took its 100
# backgrounds from scenes outside its datasets).
POOL = "synth-scenes:C"
# The paper's remedy, random-background augmentation at p = 0.5, as config overrides.
AUGMENTED = ("data.random_background_p=0.5", f"data.background_pool={POOL}")
TESTS3 = ("original", "mean_background", "random_background")  # the paper's three test sets (Table 2, "consistent")
TEST_LABEL = {"original": "original", "mean_background": "mean-background", "random_background": "random-background"}
FIG3 = "Fig. 3 (text)"
COST_BOUND = 5.0  # points of rank-1: twice the midpoint of the paper's "2%-3%" drop (002 line 194)
COST_SOURCE = ("002 line 194: 'There are 2%-3% performance drop on the original test sets': the midpoint (csv row) "
               f"and the bound, at most {COST_BOUND:g} points (twice the midpoint), are the study's reading")
PAPER_NAME = {"DGD baseline": "DGD", "ours (p=0.5)": "Ours"}  # Table 2's rows: our variant -> the paper's row
T3_REASON = "never trained; trained by the background-bias chapter issue"


def profile_defaults(profile: str, ps: list[float] | None, bg_shares: list[float] | None,
                     second_family: str | None, parser_epochs: int | None) -> tuple:
    """The notebook's parameters with each ``None`` replaced by ``profile``'s default.

    Returns ``(ps, bg_shares, second_family, parser_epochs)``: at ``ci`` two
    augmentation probabilities, no bias dial, no second scene family and a
    parser trained 2 epochs; otherwise five probabilities, ``bg_share`` 0 and 1,
    family ``B`` and 12 epochs.
    """
    ci = profile == "ci"
    return (ps if ps is not None else ([0.0, 0.5] if ci else [0.0, 0.25, 0.5, 0.75, 1.0]),
            bg_shares if bg_shares is not None else ([] if ci else [0.0, 1.0]),
            second_family if second_family is not None else (None if ci else "B"),
            parser_epochs if parser_epochs is not None else (2 if ci else 12))


def paper_value(table: str, row: str, dataset: str = "cuhk03", metric: str = "rank1") -> float:
    """A number of the paper's (``reidlib/papers/bgbias.csv``), in percent."""
    return value("bgbias", table, row, metric, dataset)


def as_records(table: pd.DataFrame) -> list[dict]:
    """A :func:`reidlib.ablation.judge` table as the results file keeps it: one dict per claim."""
    return table.reset_index().to_dict(orient="records")


def slim(rows: list[dict]) -> list[dict]:
    """Scores as the results file keeps them: without ``per_query`` (it serves the claims' test error only)."""
    return [{k: v for k, v in r.items() if k != "per_query"} for r in rows]


def augmentation_tests() -> dict[str, dict]:
    """``load_run`` settings of the paper's three test sets (:data:`TESTS3`), for runs that may augment.

    The random backgrounds' pool is given to every test set, so that a run
    trained with augmentation is tested with the pool it was trained with.
    """
    return {t: {**variant_settings(t, POOL, train=False), "data.background_pool": POOL} for t in TESTS3}


def tested(runs: list[dict], tests: dict[str, dict], what: str, device: str,
           withdrawn: list[Withdrawn]) -> tuple[dict[str, list[dict]], dict[str, Withdrawn]]:
    """Scores of ``runs`` (one variant's seeds) on each of ``tests`` (variant -> ``load_run`` settings).

    Returns ``({variant: [scores per seed]}, {variant: Withdrawn})``; the
    withdrawn scores are also appended to ``withdrawn``.
    """
    ok, gone = scores_on(runs, {LABELS[t]: test for t, test in tests.items()}, what, device)
    withdrawn.extend(gone.values())
    variant = {LABELS[t]: t for t in tests}
    return {variant[t]: v for t, v in ok.items()}, {variant[t]: w for t, w in gone.items()}


# --- Fig. 3: train on one version, test on every version ---


def fig3_study(name: str, dataset: str, overrides: list[str], profile: str, seeds: list[int], device: str,
               withdrawn: list[Withdrawn]) -> dict:
    """Fig. 3 on one dataset with the paper's baseline network (``dgd``): :func:`reidlib.bias.influence_study`.

    ``name`` says which study in the reasons of what it cannot score; those
    are appended to ``withdrawn``. Returns the study (``runs``, ``scores``,
    ``withdrawn``).
    """
    study = influence_study("dgd", profile, dataset, seeds, overrides, POOL, device, name=name)
    withdrawn.extend(study["withdrawn"].values())
    return study


def heatmaps(scores: list[dict], title: str) -> plt.Figure:
    """Fig. 3's train x test matrices of rank-1 and mAP (%) side by side; withdrawn cells are marked."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for ax, metric in zip(axes, ("rank1", "mAP")):
        m = (100 * influence_matrix(scores, metric) if scores else
             pd.DataFrame(index=list(LABELS.values()), columns=list(LABELS.values()), dtype=float))
        sns.heatmap(m, annot=True, fmt=".1f", cmap="viridis", vmin=0, vmax=100, cbar=False, ax=ax)
        for i, j in zip(*np.where(m.isna())):  # scores that cannot be shown (results["withdrawn"] says why)
            ax.text(j + 0.5, i + 0.5, "withdrawn", ha="center", va="center", fontsize=8, color="grey")
        ax.set(title=f"{title}: {'rank-1' if metric == 'rank1' else 'mAP'} (%)", xlabel="tested on",
               ylabel="trained on")
    fig.tight_layout()
    return fig


def study_chances(studies: dict[str, dict], dataset: str, data_root: str | None,
                  second_family: str | None) -> dict[str, float]:
    """Rank-1 of a random ranking (:func:`reidlib.eval.chance_rank1`) of each SynthReID study's test set.

    ``studies`` is keyed by study name: ``dataset`` itself, or a study of its
    ``second_family`` scenes.
    """
    chances = {}
    for name in studies:
        opts = {} if name == dataset else {"scene_family": second_family}
        chances[name] = chance_rank1(open_dataset(dataset, data_root, **opts))
    return chances


def condition_runs(study: dict) -> tuple[dict[str, list[dict]], dict[str, str]]:
    """A Fig. 3 study's scores as the runs of :func:`reidlib.ablation.judge`, with what is withdrawn and why.

    Returns ``(runs, withdrawn)``. ``runs["<train> -> <test>"]`` holds
    ``[{"seed", "rank1", "mAP", "num_valid_queries", ...}]``; ``runs["<train>: spread"]``
    holds per seed the spread (largest minus smallest rank-1) of the model
    trained on ``<train>`` over the paper's three test sets (:data:`TESTS3`).
    ``withdrawn`` maps a run name to the reason it cannot be shown (a spread
    is withdrawn when one of its cells is).
    """
    runs, gone = {}, {cell: w.reason for cell, w in study["withdrawn"].items()}
    for s in study["scores"]:
        runs.setdefault(f"{s['train']} -> {s['test']}", []).append(s)
    for train in VARIANTS:
        cells = [f"{train} -> {t}" for t in TESTS3]
        if any(c in gone or c not in runs for c in cells):
            gone[f"{train}: spread"] = ("the spread is over the original, mean-background and random-background "
                                        "test sets: " + "; ".join(gone.get(c, f"no scores of {c!r}") for c in cells
                                                                   if c in gone or c not in runs))
            continue
        by_seed = {}
        for c in cells:
            for s in runs[c]:
                by_seed.setdefault(s["seed"], []).append(s)
        # the test error of a spread is approximated by the binomial error of its size over the fewest queries
        runs[f"{train}: spread"] = [{"seed": seed, "rank1": max(x["rank1"] for x in v) - min(x["rank1"] for x in v),
                                     "num_valid_queries": min(x["num_valid_queries"] for x in v)}
                                    for seed, v in by_seed.items() if len(v) == len(cells)]
    return runs, gone


def fig3_claims() -> tuple[list[Claim], list[Claim], Claim]:
    """The paper's Fig. 3 findings as claims: ``(against the original model, against chance, consistency)``.

    The first list is judged against the original model with the
    learned-baseline floor; the second against a random ranking (run
    ``"chance"``); the last compares the spreads of :func:`condition_runs`.
    """
    claims = [Claim("original model loses on mean-background", "original -> original", "original -> mean_background",
                    "rank1", paper_value(FIG3, "original-trained: mean-background minus original")),
              Claim("original model loses on random-background", "original -> original",
                    "original -> random_background", "rank1",
                    paper_value(FIG3, "original-trained: random-background minus original")),
              Claim(f"random-background training costs a little (at most {COST_BOUND:g} points) on originals",
                    "original -> original", "random_background -> original", "rank1",
                    paper_value(FIG3,
                                "random-background-trained: original minus original-trained (2%-3% drop; midpoint)"),
                    at_most=COST_BOUND, source=COST_SOURCE)]
    # Against chance itself: the baseline is a random ranking (no learned-baseline floor), paired by seed.
    against_chance = [Claim("original model beats chance on background-only", "chance", "original -> background_only",
                            "rank1", None, +1, source="002 lines 148-150: 'much higher than random guess'"),
                      Claim("background-only model beats chance", "chance", "background_only -> background_only",
                            "rank1", None, +1,
                            source="002 lines 172-173: 'significantly higher than those of random guess'")]
    # The spread's baseline is the original model: the learned-baseline floor is its rank-1 on original images.
    spread = Claim("random-background model is the most consistent", "original: spread", "random_background: spread",
                   "rank1", None, -1, source="002 lines 189-191: 'consistent performance on all original, "
                   "mean-background, and random-background test sets' (a smaller spread than the original model's)")
    return claims, against_chance, spread


def findings(study: dict, chance: float, seeds: list[int]) -> pd.DataFrame:
    """The Fig. 3 findings of :func:`fig3_claims` judged on one study by the book's rule, one row per claim.

    ``chance`` is the rank-1 of a random ranking of the study's test set (a
    fraction). Rows in the order the chapter's text gives them: the two
    losses, the two against chance, consistency, the cost of augmentation.
    """
    runs, gone = condition_runs(study)
    base = {s["seed"]: s["num_valid_queries"] for s in runs.get("original -> original", [])}
    runs["chance"] = [{"seed": seed, "rank1": chance, "num_valid_queries": q} for seed, q in base.items()]
    claims, against_chance, spread = fig3_claims()
    consistent = judge(runs, [spread], seeds=seeds, withdrawn=gone)
    base_rank1 = np.mean([s["rank1"] for s in runs.get("original -> original", [])] or [np.nan])
    if consistent.loc[spread.label, "verdict"] != WITHDRAWN and not learned(base_rank1, chance):
        consistent.loc[spread.label, ["verdict", "size", "note"]] = [
            NOT_TESTABLE, None, (f"the original model did not learn: rank-1 {100 * base_rank1:.1f} % is under "
                                 f"{LEARNED_TIMES_CHANCE:g} x chance ({100 * chance:.2f} %)")]
    table = pd.concat([judge(runs, claims, seeds=seeds, chance=chance, withdrawn=gone),
                       judge(runs, against_chance, seeds=seeds, withdrawn=gone), consistent])
    return table.loc[[c.label for c in claims[:2] + against_chance + [spread] + claims[2:]]]


def real_study(real_dataset: str, real_root, overrides: list[str], profile: str, seeds: list[int], device: str,
               withdrawn: list[Withdrawn]) -> tuple[dict, float]:
    """Fig. 3 on the real dataset at ``real_root``, with the masks of the study's person segmenter.

    Returns ``(study, chance)``: the study (:func:`fig3_study`) and the rank-1
    of a random ranking of its test set.
    """
    from ..data.segment import cached_masks

    mask_dir = cached_masks(real_root, real_dataset)  # the study's segmenter, written once to .cache/masks
    study = fig3_study(real_dataset, real_dataset, [*overrides, f"data.data_root={real_root}",
                                                    f"data.mask_root={mask_dir}"], profile, seeds, device, withdrawn)
    return study, chance_rank1(open_dataset(real_dataset, real_root))


def fig3_glue(shown: dict) -> dict[str, float | str]:
    """The numbers the chapter's Fig. 3 prose glues, by glue name, from the results shown (``shown``)."""
    first_name = next(iter(shown["findings"]))
    first = pd.DataFrame(shown["findings"][first_name]).set_index("claim")
    return {"paper_fig3_mean_loss": -paper_value(FIG3, "original-trained: mean-background minus original"),
            "paper_fig3_random_loss": -paper_value(FIG3, "original-trained: random-background minus original"),
            "paper_fig3_orig_on_bg": paper_value(FIG3, "original-trained on background-only"),
            "paper_fig3_bg_on_bg": paper_value(FIG3, "background-only-trained on background-only"),
            "paper_fig3_mean": paper_value(FIG3, "original-trained: mean-background minus original"),
            "bg_cost_bound": COST_BOUND,
            "bg_chance_first": 100 * shown["chance_rank1"][first_name],
            "bg_change_mean": float(first.loc["original model loses on mean-background", "ours"]),
            "bg_only_gain": float(first.loc["background-only model beats chance", "ours"]),
            "fig3_counts": "; ".join(f"{name}: {verdict_sentence(rows)}" for name, rows in shown["findings"].items())}


# --- Table 2 and the augmentation probability p ---


def table2_claims() -> list[Claim]:
    """Table 2's claims, one per test set: ours (guided pooling, p = 0.5) beats the DGD baseline (Market-1501)."""
    return [Claim(f"ours beats the baseline on {t}", f"DGD baseline on {t}", f"ours (p=0.5) on {t}", "rank1",
                  paper_value("2", f"Ours {TEST_LABEL[t]}", "market1501")
                  - paper_value("2", f"DGD {TEST_LABEL[t]}", "market1501"))
            for t in TESTS3]


def table2_results(baseline: list[dict], ours: list[dict], dataset: str, seeds: list[int], chance: float,
                   device: str, withdrawn: list[Withdrawn]) -> dict:
    """Table 2: the baseline's and our runs tested on the paper's three test sets, and its claims judged.

    ``baseline`` and ``ours`` are the runs (per seed) of the DGD baseline
    trained on original images and of the guided-pooling network with
    augmentation. Returns ``{"table2": {"<name> on <test>": mean and std of
    rank-1 and mAP}, "table2_claims": [judged claims]}``.
    """
    tests = augmentation_tests()
    t2_runs, t2_gone = {}, {}
    for name, runs in (("DGD baseline", baseline), ("ours (p=0.5)", ours)):
        ok, out = tested(runs, tests, f"{dataset}: {name}", device, withdrawn)
        t2_runs.update({f"{name} on {t}": ok.get(t, []) for t in tests})
        t2_gone.update({f"{name} on {t}": w.reason for t, w in out.items()})
    return {"table2": metric_table({k: v for k, v in t2_runs.items() if v}, ("rank1", "mAP")).to_dict(orient="index"),
            "table2_claims": as_records(judge(t2_runs, table2_claims(), seeds=seeds, chance=chance,
                                              withdrawn=t2_gone))}


def table2_table(table2: dict) -> pd.DataFrame:
    """Our rank-1 (mean ± std, %) beside the paper's (Market-1501) per Table 2 row; "withdrawn" where we have none."""
    t2 = pd.DataFrame(table2).T
    rows = [f"{n} on {t}" for n in PAPER_NAME for t in TESTS3]
    return pd.DataFrame({
        "ours rank-1 (%)": [mean_std(t2.loc[[r]], "rank1")[0] if r in t2.index else "withdrawn" for r in rows],
        "paper rank-1, Market-1501 (%)": [
            paper_value("2", f"{PAPER_NAME[r.split(' on ')[0]]} {TEST_LABEL[r.split(' on ')[1]]}", "market1501")
            for r in rows]}, index=rows)


def p_variants(ps: list[float]) -> dict[str, list[str]]:
    """The baseline's overrides at each augmentation probability ``p`` (none at ``p = 0``), named ``"p=<p>"``."""
    return {f"p={p:g}": [f"data.random_background_p={p}", f"data.background_pool={POOL}"] if p else [] for p in ps}


def p_study(profile: str, ps: list[float], seeds: list[int], dataset: str, overrides: list[str], device: str,
            withdrawn: list[Withdrawn]) -> dict[str, dict[str, list[dict]]]:
    """Train the baseline (``dgd``) with random-background augmentation at each of ``ps`` and test it.

    Returns ``{"p=<p>": {test set: [scores per seed]}}`` on the paper's three
    test sets (:data:`TESTS3`, less what is withdrawn).
    """
    runs = run_variants("dgd", profile, p_variants(ps), seeds, dataset, overrides)
    return {name: tested(rs, augmentation_tests(), f"{dataset}: dgd with augmentation {name}", device, withdrawn)[0]
            for name, rs in runs.items()}


def p_results(p_scores: dict[str, dict[str, list[dict]]], ps: list[float], seeds: list[int], chance: float) -> dict:
    """The p study as the results file keeps it, with the paper's Table 4 claim where ``ps`` has 0 and 0.5.

    Returns ``{"p_study": {"p=<p>": {test set: {"rank1", "mAP"} means}}}``
    and, where both are trained, ``"p_claims"``: p = 0.5 beats no
    augmentation on original images.
    """
    out = {"p_study": {name: {t: {m: float(np.mean([x[m] for x in rows])) for m in ("rank1", "mAP")}
                              for t, rows in by_test.items()} for name, by_test in p_scores.items()}}
    if 0.5 in ps and 0.0 in ps:
        orig = {n: by_test.get("original", []) for n, by_test in p_scores.items()}
        claim = Claim("p = 0.5 beats no augmentation on original images", "p=0", "p=0.5", "rank1",
                      paper_value("4", "online (0.5)", "market1501") - paper_value("4", "Main-net only", "market1501"))
        out["p_claims"] = as_records(judge(orig, [claim], seeds=seeds, chance=chance))
    return out


def p_table(p_study: dict) -> pd.DataFrame:
    """Rank-1 (%) per augmentation probability (rows) and test set (columns); NaN where withdrawn."""
    return pd.DataFrame({n: {TEST_LABEL[t]: 100 * d[t]["rank1"] if t in d else np.nan for t in TESTS3}
                         for n, d in p_study.items()}).T


def plot_p_study(ptab: pd.DataFrame) -> plt.Axes:
    """:func:`p_table` as lines over p, test sets without any score left out."""
    ax = ptab.dropna(axis=1, how="all").plot(marker="o", figsize=(6, 3.2),
                                             title="rank-1 (%) of the baseline by augmentation probability")
    ax.set_xlabel("training with random backgrounds, probability p")
    plt.tight_layout()
    return ax


def remedies_glue(shown: dict) -> dict[str, float | str]:
    """The numbers the Table 2 / p-study prose glues, by glue name, from the results shown (``shown``)."""
    return {"paper_t4_p05": paper_value("4", "online (0.5)", "market1501"),
            "paper_t4_main": paper_value("4", "Main-net only", "market1501"),
            "t2_counts": verdict_sentence(shown["table2_claims"]),
            "p_counts": verdict_sentence(shown.get("p_claims", []))}


# --- Table 3: how many region branches ---


def table3_claims(seeds: list[int]) -> list[dict]:
    """Table 3's claims (three region branches beat fewer), all withdrawn: the structures were never trained."""
    t3 = lambda row: paper_value("3", row, "market1501")
    claims3 = [Claim("three region branches beat the main network alone", "Main-net only", "Ours (3-branch)", "rank1",
                     t3("Ours (3-branch)") - t3("Main-net only")),
               Claim("three branches beat one on the whole foreground", "1-branch foreground", "Ours (3-branch)",
                     "rank1", t3("Ours (3-branch)") - t3("1-branch foreground")),
               Claim("three branches beat two (upper and lower)", "2-branch upper+lower", "Ours (3-branch)", "rank1",
                     t3("Ours (3-branch)") - t3("2-branch upper+lower"))]
    return as_records(judge({}, claims3, seeds=seeds, withdrawn={row: T3_REASON for row in ABLATION_ROWS})
                      .assign(note=T3_REASON))


# --- Beyond the paper: bias as a dial ---


def dial_entry(scores: list[dict], augmented: dict[str, list[dict]]) -> dict:
    """One ``bg_share`` of the dial as the results file keeps it.

    ``scores`` are a Fig. 3 study's scores; ``augmented`` the baseline trained
    with augmentation (p = 0.5), ``{test set: [scores per seed]}``. Returns
    ``{"scores": [...], "augmented": [{"test", "seed", ...}]}`` without per-query scores.
    """
    return {"scores": slim(scores), "augmented": [{"test": t, **x} for t, rows in augmented.items() for x in slim(rows)]}


def dial_study(bg_shares: list[float], profile: str, seeds: list[int], dataset: str, overrides: list[str],
               device: str, withdrawn: list[Withdrawn]) -> dict[str, dict]:
    """At each of ``bg_shares``: the Fig. 3 study and the baseline with augmentation (p = 0.5), trained and tested.

    Returns ``{str(bg_share): dial_entry(...)}``.
    """
    dial = {}
    for share in bg_shares:
        extra = [*overrides, f"data.dataset_options={{bg_share: {share}}}"]
        study = fig3_study(f"{dataset} (bg_share {share})", dataset, extra, profile, seeds, device, withdrawn)
        augmented = run_variants("dgd", profile, {"p=0.5": list(AUGMENTED)}, seeds, dataset, extra)["p=0.5"]
        aug_scores = tested(augmented, augmentation_tests(),
                            f"{dataset} (bg_share {share}): dgd with augmentation p=0.5", device, withdrawn)[0]
        dial[str(share)] = dial_entry(study["scores"], aug_scores)
    return dial


def points(a: float, b: float = 0.0) -> float | str:
    """``a - b`` in points (fractions in, points out); "withdrawn" where a score cannot be shown (NaN)."""
    return "withdrawn" if pd.isna(a) or pd.isna(b) else 100 * (a - b)


def dial_table(dial: dict[str, dict]) -> pd.DataFrame:
    """Per ``bg_share`` (rows, ascending): the drops on random backgrounds and the background-only score (points).

    ``dial`` maps ``str(bg_share)`` to :func:`dial_entry` records.
    """
    rows = []
    for share, d in sorted(dial.items(), key=lambda kv: float(kv[0])):
        m = influence_matrix(d["scores"], "rank1")
        a = pd.DataFrame(d["augmented"]).groupby("test")["rank1"].mean() if d["augmented"] else pd.Series(dtype=float)
        rows.append({"bg_share": float(share),
                     "original model: drop on random backgrounds": points(m.loc["original", "original"],
                                                                          m.loc["original", "random-background"]),
                     "augmented model (p=0.5): drop": points(a.get("original", np.nan),
                                                             a.get("random_background", np.nan)),
                     "background-only model on background-only": points(m.loc["background-only", "background-only"])})
    return pd.DataFrame(rows).set_index("bg_share")


def plot_dial(table: pd.DataFrame) -> plt.Axes:
    """:func:`dial_table` as lines over ``bg_share``, columns without any number left out."""
    ax = table.apply(pd.to_numeric, errors="coerce").dropna(axis=1, how="all").plot(marker="o", figsize=(6, 3.2),
                                                                                   title="rank-1 points")
    plt.tight_layout()
    return ax
