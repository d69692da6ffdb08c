"""The study in one table: every paper's claims and the verdicts the chapters gave them.

Each reproduction chapter saves its judged claims in its results
(``results/<profile>/<chapter>.json``): lists of claim records under keys
ending in ``_claims`` (one per table or figure of the paper), and, for the
background-bias chapter, ``findings`` and ``findings_real`` per dataset. This module gathers them
from the largest profile each chapter has committed, so the landing page
never mixes a chapter's ``ci`` smoke run with another's ``cpu`` study
without saying so.
"""

from __future__ import annotations

import pandas as pd

from .claims import VERDICTS
from .results import load_results

# Reproduction chapters: notebook name -> (method, paper file number) as the book names them.
CHAPTERS = {
    "bgbias": ("Background bias", "002"),
    "fanet": ("FA-Net", "000"),
    "ftn": ("FTN", "001"),
    "mgcam": ("MGCAM", "003"),
    "fmn": ("FMN", "004"),
}
# The book's other pages with results that may leave something out (notebook name -> title).
OTHER_PAGES = {"baselines": "Baselines", "synthreid": "SynthReID", "comparison": "Compared"}
COLUMNS = ["chapter", "method", "paper", "where", "dataset", "claim", "metric", "paper delta", "ours", "low",
           "high", "seeds", "verdict", "size", "rank-1 paper", "rank-1 ours", "test error", "note", "profile"]
# What a judged claim record must hold (reidlib.ablation.judge, rule v2).
REQUIRED = {"claim", "metric", "paper", "ours", "low", "high", "seeds", "verdict", "size"}


# Names of the chapters' claim lists that are not a paper's table.
WHERE = {"k": "k sweep", "p": "augmentation p", "unseen": "unseen scenes", "rerank": "re-ranking",
         "decoder": "decoder", "findings": "Fig. 3 findings", "mask": "mask quality", "video": "tracklets (MARS protocol)"}


def _where(key: str) -> str:
    """``table1_claims`` -> ``table 1``: which part of the chapter a list of claims comes from."""
    stem = key.removesuffix("_claims")
    return stem.replace("table", "table ") if stem.startswith("table") else WHERE.get(stem, stem.replace("_", " "))


def chapter_claims(chapter: str, profiles: tuple[str, ...] = ("gpu", "cpu", "ci")) -> pd.DataFrame:
    """Every judged claim of one chapter's committed results (largest profile first), one row each."""
    if chapter not in CHAPTERS:
        raise ValueError(f"unknown chapter {chapter!r}; the reproduction chapters are {list(CHAPTERS)}")
    results = load_results(chapter, profiles)
    method, paper = CHAPTERS[chapter]
    groups = [(key, results.get("dataset"), records) for key, records in sorted(results.items())
              if key.endswith("_claims")]
    for key in ("findings", "findings_real"):  # (the background-bias chapter's, per dataset)
        groups += [("findings", dataset, records) for dataset, records in sorted(results.get(key, {}).items())]
    rows = []
    for key, dataset, records in groups:
        for r in records:
            missing = REQUIRED - set(r)
            if missing:
                raise ValueError(f"a claim under {key!r} of {chapter}'s {results['profile']} results lacks "
                                 f"{sorted(missing)}; re-run the notebook {chapter} to rewrite them")
            rows.append({"chapter": chapter, "method": method, "paper": paper, "where": _where(key),
                         "dataset": dataset, "claim": r["claim"], "metric": r["metric"],
                         "paper delta": r["paper"], "ours": r["ours"], "low": r["low"], "high": r["high"],
                         "seeds": r["seeds"], "verdict": r["verdict"], "size": r["size"],
                         "rank-1 paper": r.get("rank-1 paper"), "rank-1 ours": r.get("rank-1 ours"),
                         "test error": r.get("test error"), "note": r.get("note", ""), "profile": results["profile"]})
    return pd.DataFrame(rows, columns=COLUMNS)


def all_claims(profiles: tuple[str, ...] = ("gpu", "cpu", "ci")) -> pd.DataFrame:
    """:func:`chapter_claims` of every reproduction chapter that has results."""
    frames = []
    for chapter in CHAPTERS:
        try:
            frames.append(chapter_claims(chapter, profiles))
        except FileNotFoundError:  # a chapter not run yet is reported by verdict_counts as absent
            continue
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COLUMNS)


def verdict_counts(claims: pd.DataFrame) -> pd.DataFrame:
    """Per chapter: the profile its numbers come from and how many claims got each verdict."""
    rows = []
    for chapter, (method, paper) in CHAPTERS.items():
        mine = claims[claims["chapter"] == chapter]
        row = {"chapter": chapter, "method": method, "paper": paper,
               "profile": ", ".join(sorted(mine["profile"].unique())) or "not run", "claims": len(mine)}
        row.update({v: int((mine["verdict"] == v).sum()) for v in VERDICTS})
        rows.append(row)
    return pd.DataFrame(rows).set_index("chapter")


def comparison_verdicts(profiles: tuple[str, ...] = ("gpu", "cpu", "ci")) -> pd.DataFrame:
    """The comparison chapter's calls against the baseline: one row per entry, a column per question.

    The columns are the test accuracy per metric (``rank1``, ``mAP``) and then,
    where the chapter's results have them, its background questions on rank-1
    (:func:`reidlib.compare.question_calls`: random-background drop,
    unseen-scenes drop, real data, transfer). Each cell reads "better",
    "worse" or "no difference called", with the mean difference and its
    standard error in points. Empty when the chapter has not run.
    """
    from .compare import question_calls, verdicts  # (the models the comparison's entries use load only here)

    try:
        results = load_results("comparison", profiles)
    except FileNotFoundError:
        return pd.DataFrame()
    rows = pd.DataFrame(results.get("vs_baseline", []))
    if rows.empty:
        return rows
    table = verdicts(rows.rename(columns={"metric": "question"}))  # a metric is a question here: the same cells
    table = table[[m for m in ("rank1", "mAP", "mINP") if m in table]]
    if results.get("main"):
        questions = verdicts(question_calls(results)).drop(columns="accuracy")  # accuracy: the rank1 column
        table = table.join(questions, how="left")
    table.insert(0, "profile", results["profile"])
    return table


def comparison_baseline_learning(profiles: tuple[str, ...] = ("gpu", "cpu", "ci")) -> pd.DataFrame:
    """How far the comparison's baseline learned each dataset it was trained on.

    :func:`reidlib.compare.learning_table` of the chapter's records (identity
    loss at the first and last epoch beside a uniform guess, rank-1 beside
    chance), one row per dataset; empty when the chapter has no such record
    (the ``ci`` profile trains no real dataset).
    """
    from .compare import learning_table

    try:
        results = load_results("comparison", profiles)
    except FileNotFoundError:
        return pd.DataFrame()
    return learning_table((results.get("real") or {}).get("learning", []))


def withdrawn_results(profiles: tuple[str, ...] = ("gpu", "cpu", "ci")) -> pd.DataFrame:
    """What each chapter withdrew rather than show (``results["withdrawn"]``): chapter, result and reason.

    Withdrawn claims are in :func:`all_claims` with their reasons; this lists
    the other results (tables, scores) a chapter left out, so the landing page
    says what is missing and why.
    """
    rows = []
    for chapter in [*CHAPTERS, *OTHER_PAGES]:
        try:
            results = load_results(chapter, profiles)
        except FileNotFoundError:
            continue
        for w in results.get("withdrawn", []):
            rows.append({"chapter": chapter, "result": w["result"], "reason": w["reason"],
                         "profile": results["profile"]})
    return pd.DataFrame(rows, columns=["chapter", "result", "reason", "profile"])


# The columns of a chapter's claims on the landing page: what fits the page beside its dot plot (each
# chapter's own page has the rest: rank-1 beside a claim judged on mAP, the test-set error).
LANDING_COLUMNS = ["claim", "metric", "paper", "ours", "95 % interval", "verdict", "size", "note"]


def claims_by_chapter(claims: pd.DataFrame, digits: int = 1) -> dict[str, tuple[str, pd.DataFrame, pd.DataFrame]]:
    """:func:`all_claims` split per chapter for the landing page: chapter -> (setting, table, plotted).

    The setting names the chapter's dataset(s) and profile (``"synth-small, cpu"``); the table has one row per claim with
    :data:`LANDING_COLUMNS` (the claim prefixed by where in the paper it comes from, differences in points to
    ``digits``, the interval as one column); *plotted* holds the same claims' unrounded ``paper delta``,
    ``ours``, ``low``, ``high`` and ``verdict`` for :func:`reidlib.viz.plot_claims`.
    """
    from .ablation import interval_text

    out = {}
    for chapter, rows in claims.groupby("chapter", sort=False):
        setting = f"{', '.join(sorted(rows['dataset'].dropna().unique()))}, {', '.join(sorted(rows['profile'].unique()))}"
        where = _where_and_dataset(rows)
        table = pd.DataFrame({
            "claim": [f"{w}: {c}" for w, c in zip(where, rows["claim"])],
            "metric": rows["metric"].to_numpy(),
            "paper": rows["paper delta"].astype(float).round(digits).to_numpy(),
            "ours": rows["ours"].astype(float).round(digits).to_numpy(),
            "95 % interval": interval_text(rows["low"].astype(float), rows["high"].astype(float), digits),
            "verdict": rows["verdict"].to_numpy(), "size": rows["size"].fillna("").to_numpy(),
            "note": rows["note"].fillna("").to_numpy(),
        })
        plot = rows[["claim", "paper delta", "ours", "low", "high", "verdict"]].assign(claim=table["claim"].to_numpy())
        out[chapter] = (setting, table, plot.reset_index(drop=True))
    return out


def chapter_findings(chapter: str, profiles: tuple[str, ...] = ("gpu", "cpu", "ci")) -> str:
    """What a reproduction chapter found, as the sentences that open it, from its committed claims.

    Names the dataset(s) and profile, counts the verdicts (:func:`reidlib.ablation.verdict_sentence`) and
    lists the claims that were reproduced and those that were not, each with the paper's difference and
    ours in points. Computed, never typed: the chapter glues it at its top.
    """
    from .ablation import verdict_sentence

    claims = chapter_claims(chapter, profiles)
    if claims.empty:
        return "This chapter has no judged claims yet."
    setting = ", ".join(sorted(claims["dataset"].dropna().unique()))
    text = (f"On {setting} ({', '.join(sorted(claims['profile'].unique()))} profile), {len(claims)} of the paper's "
            f"claims were put to rule v2: {verdict_sentence(claims)}.")
    where = _where_and_dataset(claims)
    for verdict in ("reproduced", "not reproduced"):
        rows = claims[claims["verdict"] == verdict]
        if len(rows):
            listed = "; ".join(f"{w}: {c} (paper {_points(p)}, ours {_points(o)})"
                               for w, c, p, o in zip(where[rows.index], rows["claim"], rows["paper delta"], rows["ours"]))
            text += f" {verdict.capitalize()}: {listed}."
    return text


def _points(value) -> str:
    """A difference in points as the findings write it: ``+1.2``, or ``a direction only`` when the paper gave none."""
    return "a direction only" if value is None or pd.isna(value) else f"{float(value):+.1f}"


def _where_and_dataset(rows: pd.DataFrame) -> pd.Series:
    """Where in the paper each claim comes from, with its dataset when the claims span several (the
    background-bias findings are asked once per dataset)."""
    if rows["dataset"].nunique() > 1:
        return rows["where"] + " (" + rows["dataset"].fillna("") + ")"
    return rows["where"]
