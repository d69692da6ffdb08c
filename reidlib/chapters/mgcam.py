"""The chapter *MGCAM: attention taught by the mask*: its rows, claims, tables and the body-map figure.

Song et al., "Mask-guided Contrastive Attention Model for Person Re-Identification", CVPR 2018 (paper
``003``). The rows are :data:`reidlib.models.mgcam.ABLATION_ROWS`, trained over the chapter's seeds; every
run is scored under the four distances of the paper's Table 3 (:func:`distance_scores`). The paper segments
every image with an FCN (003:168); SynthReID renders each image's true mask, so on a ``synth-*`` dataset a
row that reads a mask at test time has an input the paper never had, an *oracle*, and its name says so
(:func:`shown_as`). Where a question's rows can also be tested on the study's segmenter's masks
(:func:`segmenter_scores`), that claim is the one counted (:func:`table2_claims`).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from ..ablation import LEAKY_RANDOM_BACKGROUND, Claim, Withdrawn, evaluate_or_withdraw, judge, mean_std, metric_table
from ..claims import BINOMIAL, NOT_TESTABLE, WITHDRAWN, compare, learned
from ..data import MaskSource, read_image
from ..data.mask_quality import degrade, mask_iou
from ..engine.records import attention_run_scores, distance_run_scores, evaluate_run
from ..models.mgcam import ABLATION_ROWS, PAPER_ROWS, overrides
from ..papers import value
from ..viz import finish_rows

ORACLE = "oracle masks at test"

# ---------------------------------------------------------------------------------------------- rows and names


def paper_value(table: str, row: str, metric: str) -> float:
    """A number of the paper's on MARS, in percent: ``paper_value("2", "MGCAM RGB-M (XQDA)", "mAP")``."""
    return value("mgcam", table, row, metric, dataset="mars")


def reads_masks(row: str) -> bool:
    """Whether a row's test images are built from, or attended with, the dataset's person masks."""
    o = ABLATION_ROWS[row]
    return (bool(o.get("data.rgbm")) or o.get("data.background") in ("mask_only", "mean_background")
            or o.get("model.options.attention") == "hard")


def oracle(*rows: str, synthetic: bool) -> bool:
    """True where one of ``rows`` reads SynthReID's ground-truth masks at test time: an input the paper lacked.

    ``synthetic``: whether the dataset is SynthReID (true masks); a real dataset's masks are a segmenter's.
    """
    return synthetic and any(reads_masks(n) for n in rows)


def shown_as(row: str, synthetic: bool) -> str:
    """A row's name in the tables: ``MSCAN-body RGB-M (oracle masks at test)`` where it is an oracle."""
    return f"{row} ({ORACLE})" if oracle(row, synthetic=synthetic) else row


def row_of(name: str) -> str:
    """The :data:`ABLATION_ROWS` row a shown name stands for (the name without its oracle mark)."""
    return name.removesuffix(f" ({ORACLE})")


def in_order(names, rows=ABLATION_ROWS) -> list[str]:
    """Shown row names (results files sort their keys) back in the order of ``rows``."""
    order = list(rows)
    return sorted(names, key=lambda k: order.index(row_of(k)))


def paper_claim(label: str, without: str, with_: str, rows, source: str = "") -> Claim:
    """A claim on mAP, the paper's rank-1 difference beside; ``rows``: the paper's (table, row) of without and with_."""
    (a, b) = rows
    return Claim(label, without, with_, "mAP", paper_value(*b, "mAP") - paper_value(*a, "mAP"),
                 paper_rank1=paper_value(*b, "rank1") - paper_value(*a, "rank1"), source=source)


def ours(table: pd.DataFrame, metric: str) -> list[str]:
    """Mean ± sd over seeds per row of a metric_table; a row without run records is withdrawn."""
    # A row without run records has a NaN mean.
    return [s if pd.notna(m) else WITHDRAWN for s, m in zip(mean_std(table, metric), table[f"{metric} mean"])]


def shown_metrics(scores: dict[str, list[dict]], synthetic: bool) -> dict[str, dict]:
    """:func:`reidlib.ablation.metric_table` of ``scores`` (row -> per seed) as a results file keeps it, rows shown."""
    return {shown_as(n, synthetic): v for n, v in metric_table(scores).to_dict(orient="index").items()}


# ---------------------------------------------------------------------------------------------- scores


def distance_scores(runs: dict[str, list[dict]], device: str = "auto") -> dict[str, list[dict]]:
    """Every run (row -> results per seed) scored under Table 3's distances (Euclidean, KISSME, XQDA, re-ranking).

    Returns row -> per seed ``{"seed", "num_valid_queries", <distance>: {"rank1", "mAP", ...}}``.
    """
    return {n: [{"seed": r["seed"], "num_valid_queries": r["num_valid_queries"], **distance_run_scores(r, device=device)}
                for r in rs] for n, rs in runs.items()}


def under(distances: dict[str, list[dict]], kind: str, rows=None) -> dict[str, list[dict]]:
    """One distance's rank-1 and mAP per row and seed (on the run's own test set, so with its number of queries).

    ``distances`` is :func:`distance_scores`'s output; ``rows`` (default all) the rows to keep.
    """
    return {n: [{"seed": s["seed"], "num_valid_queries": s["num_valid_queries"], "rank1": s[kind]["rank1"],
                 "mAP": s[kind]["mAP"]} for s in distances[n]] for n in (rows or distances)}


# The Table 2 rows that are also tested on the study's person segmenter's masks.
SEGMENTER_ROWS = ["MSCAN-body RGB", "MSCAN-body Mask", "MSCAN-body Masked RGB", "MSCAN-body RGB-M", "MGCAM RGB",
                  "MGCAM RGB-M"]


def segmenter_scores(runs: dict[str, list[dict]], segmented_test: dict, device: str = "auto",
                     rows=SEGMENTER_ROWS) -> dict[str, list[dict]]:
    """The ``rows``' runs tested with the segmenter's masks (``segmented_test``: the test settings that load them).

    Rows that read no mask are tested as trained (their run's own scores). Returns row -> scores per seed.
    """
    return {n: [{"seed": r["seed"], **(evaluate_run(r, segmented_test, device=device) if reads_masks(n) else r)}
                for r in runs[n]] for n in rows}


# ---------------------------------------------------------------------------------------------- Table 2

TABLE2_ROWS = [n for n in ABLATION_ROWS if PAPER_ROWS[n][0] == "2"]
# One question per claim: (label, without, with_).
TABLE2_QUESTIONS = [("the mask channel helps MSCAN-body", "MSCAN-body RGB", "MSCAN-body RGB-M"),
                    ("the mask alone is far worse than RGB", "MSCAN-body RGB", "MSCAN-body Mask"),
                    ("masking the background out costs accuracy", "MSCAN-body RGB", "MSCAN-body Masked RGB"),
                    ("MGCAM beats MSCAN-body on RGB-M", "MSCAN-body RGB-M", "MGCAM RGB-M"),
                    ("RGB-M beats RGB for MGCAM", "MGCAM RGB", "MGCAM RGB-M"),
                    ("MGCAM beats MSCAN-body on RGB", "MSCAN-body RGB", "MGCAM RGB"),
                    ("soft attention beats hard attention (the mask as the map)", "MGCAM (hard) RGB-M", "MGCAM RGB-M")]
IN_TABLE3 = {"MSCAN-body RGB-M", "MGCAM RGB-M"}  # the paper's Table 3 also gives these two under the Euclidean distance


def on_segmenter(synthetic: bool, questions=TABLE2_QUESTIONS) -> list[tuple[str, str, str]]:
    """The questions asked again with the segmenter's masks: oracle rows both tested on them (SynthReID only)."""
    return [q for q in questions if synthetic and oracle(q[1], q[2], synthetic=synthetic)
            and {q[1], q[2]} <= set(SEGMENTER_ROWS)]


def table2_xqda_claims(synthetic: bool, questions=TABLE2_QUESTIONS) -> list[Claim]:
    """Every Table 2 question under XQDA, as the paper's table has it (oracle masks marked in the label)."""
    return [paper_claim(f"{label} ({ORACLE + ', ' if oracle(a, b, synthetic=synthetic) else ''}XQDA)", a, b,
                        (PAPER_ROWS[a], PAPER_ROWS[b]))
            for label, a, b in questions]


def table2_segmenter_claims(synthetic: bool, questions=TABLE2_QUESTIONS) -> list[Claim]:
    """The :func:`on_segmenter` questions on the segmenter's masks (Euclidean).

    The paper's difference is its Euclidean one from Table 3 where it gives both rows, else Table 2's XQDA one.
    """
    claims = []
    for label, a, b in on_segmenter(synthetic, questions):
        both_in_table3 = {a, b} <= IN_TABLE3
        claims.append(paper_claim(
            f"{label} (segmenter masks at test, Euclidean)", a, b,
            [("3", f"{n} Euclidean") for n in (a, b)] if both_in_table3 else (PAPER_ROWS[a], PAPER_ROWS[b]),
            "paper: " + ("Table 3, Euclidean (003:198, 202)" if both_in_table3 else "Table 2, XQDA")
            + ", FCN masks; ours: Euclidean, the study's segmenter's masks"))
    return claims


def table2_claims(xqda: dict[str, list[dict]], segmenter: dict[str, list[dict]], synthetic: bool,
                  seeds: list[int], chance: float) -> tuple[list[dict], list[dict]]:
    """Table 2's claims judged by rule v2: ``(counted, oracle twins)`` as results-file records.

    ``xqda`` and ``segmenter``: row -> scores per seed under XQDA (oracle masks on SynthReID) and with the
    segmenter's masks (Euclidean). A question asked on the segmenter's masks is counted there; its XQDA
    twin with the oracle masks is returned apart, to be shown and not counted again.
    """
    questions = TABLE2_QUESTIONS
    asked_again = on_segmenter(synthetic, questions)
    xqda_claims = table2_xqda_claims(synthetic, questions)
    xqda_judged = judge(xqda, xqda_claims, seeds=seeds, chance=chance).reset_index()
    twins = xqda_judged["claim"].isin([c.label for c, q in zip(xqda_claims, questions) if q in asked_again])
    counted = pd.concat([judge(segmenter, table2_segmenter_claims(synthetic, questions), seeds=seeds,
                               chance=chance).reset_index(), xqda_judged[~twins]])
    return counted.to_dict(orient="records"), xqda_judged[twins].to_dict(orient="records")


def table2_view(shown: dict) -> pd.DataFrame:
    """Table 2 as the chapter shows it: the paper's rank-1 and mAP beside ours (XQDA), and ours on segmenter masks.

    ``shown`` is a results file (:func:`reidlib.results.largest_results`) with ``table2`` and, where tested,
    ``table2_segmenter``.
    """
    t2, t2s = pd.DataFrame(shown["table2"]).T, pd.DataFrame(shown.get("table2_segmenter", {})).T
    t2 = t2.loc[in_order(t2.index)]
    return pd.DataFrame({
        "paper rank-1": [paper_value(*PAPER_ROWS[row_of(n)], "rank1") for n in t2.index],
        "ours rank-1": ours(t2, "rank1"),
        "paper mAP": [paper_value(*PAPER_ROWS[row_of(n)], "mAP") for n in t2.index],
        "ours mAP": ours(t2, "mAP"),
        "ours mAP, segmenter masks (Euclidean)": pd.Series(ours(t2s, "mAP") if len(t2s) else [], index=t2s.index,
                                                           dtype=object)},
        index=t2.index).fillna("")


# ---------------------------------------------------------------------------------------------- Table 3

TABLE3_MODELS = ["MSCAN-body RGB-M", "MGCAM RGB-M", "MGCAM-Siamese RGB-M"]
DISTANCES = {"euclidean": "Euclidean", "kissme": "KISSME", "xqda": "XQDA", "xqda+rerank": "Re-ranking"}
BEST_OTHER = "MGCAM RGB-M, best of Euclidean, KISSME and XQDA"


def per_distance(distances: dict[str, list[dict]], models=TABLE3_MODELS) -> dict[str, list[dict]]:
    """``"<row> <distance>"`` -> scores per seed for Table 3's models, and :data:`BEST_OTHER`.

    :data:`BEST_OTHER` is MGCAM RGB-M's best of the three distances other than re-ranking, in each seed and metric.
    """
    per_kind = {f"{n} {label}": under(distances, kind, [n])[n] for n in models for kind, label in DISTANCES.items()}
    per_kind[BEST_OTHER] = [{"seed": s["seed"], "num_valid_queries": s["num_valid_queries"],
                             **{m: max(s[k][m] for k in ("euclidean", "kissme", "xqda")) for m in ("rank1", "mAP")}}
                            for s in distances["MGCAM RGB-M"]]
    return per_kind


def table3_metrics(per_kind: dict[str, list[dict]], synthetic: bool, models=TABLE3_MODELS) -> dict[str, dict]:
    """Mean and sd over seeds per model and distance (``"<shown row> <distance>"``), as a results file keeps them."""
    return {f"{shown_as(n, synthetic)} {label}": metric_table({"x": per_kind[f"{n} {label}"]}).iloc[0].to_dict()
            for n in models for label in DISTANCES.values()}


def _table3_rows(a: str, b: str) -> tuple[tuple[str, str], tuple[str, str]]:
    """The paper's (table, row) of two of our Table 3 entries: Table 3's rows are named as our variants are."""
    return ("3", a), ("3", b)


def _oracle_tag(synthetic: bool) -> str:
    return f" ({ORACLE})" if oracle("MGCAM RGB-M", synthetic=synthetic) else ""


def table3_claims(synthetic: bool) -> list[Claim]:
    """The counted claims on distances: the Siamese loss, KISSME against Euclidean, and re-ranking (003:278-279)."""
    tag, t3 = _oracle_tag(synthetic), _table3_rows
    return [paper_claim(f"the Siamese loss helps MGCAM{tag}, Euclidean", "MGCAM RGB-M Euclidean",
                        "MGCAM-Siamese RGB-M Euclidean", t3("MGCAM RGB-M Euclidean", "MGCAM-Siamese RGB-M Euclidean")),
            paper_claim(f"KISSME is worse than the Euclidean distance, MGCAM{tag}", "MGCAM RGB-M Euclidean",
                        "MGCAM RGB-M KISSME", t3("MGCAM RGB-M Euclidean", "MGCAM RGB-M KISSME")),
            paper_claim(f"re-ranking improves on XQDA, MGCAM{tag}", "MGCAM RGB-M XQDA", "MGCAM RGB-M Re-ranking",
                        t3("MGCAM RGB-M XQDA", "MGCAM RGB-M Re-ranking")),
            paper_claim(f"re-ranking is the best distance, MGCAM{tag}", BEST_OTHER, "MGCAM RGB-M Re-ranking",
                        t3("MGCAM RGB-M Euclidean", "MGCAM RGB-M Re-ranking"),
                        "003 line 279: 're-ranking method ... performs the best'; the paper's difference is to its "
                        "best other distance for MGCAM, the Euclidean (003:202-205); ours to the best of the other "
                        "three in each seed and metric")]


def by_distance_claims(synthetic: bool) -> list[Claim]:
    """MGCAM against MSCAN-body, and the Siamese loss, under each distance (shown, not counted)."""
    tag, t3 = _oracle_tag(synthetic), _table3_rows
    return [paper_claim(f"{q}{tag}, {label}", f"{a} {label}", f"{b} {label}", t3(f"{a} {label}", f"{b} {label}"))
            for q, a, b in (("MGCAM beats MSCAN-body", "MSCAN-body RGB-M", "MGCAM RGB-M"),
                            ("the Siamese loss helps MGCAM", "MGCAM RGB-M", "MGCAM-Siamese RGB-M"))
            for label in DISTANCES.values()]


def table3_view(shown: dict, models=TABLE3_MODELS) -> pd.DataFrame:
    """Our mAP (mean ± sd) beside the paper's, one row per model and one column per distance, from ``table3``."""
    t3_ours = pd.DataFrame(shown["table3"]).T
    rows3 = in_order({" ".join(k.split(" ")[:-1]) for k in t3_ours.index}, models)  # the models, as shown
    grid = pd.DataFrame({label: ours(t3_ours.loc[[f"{n} {label}" for n in rows3]], "mAP")
                         for label in DISTANCES.values()}, index=rows3)
    paper_grid = pd.DataFrame({label: [paper_value("3", f"{n} {label}", "mAP") for n in models]
                               for label in DISTANCES.values()}, index=rows3)
    return pd.concat({"ours mAP (%)": grid, "paper mAP (%)": paper_grid}, axis=1)


# ---------------------------------------------------------------------------------------------- Fig. 5


def body_map_figure(trainer, count: int = 5):
    """Fig. 5: ``count`` query images of a trained MGCAM, their true person masks and its body maps Phi+.

    ``trainer`` is :func:`reidlib.engine.records.load_for_pictures`'s output; returns the figure (3 x ``count``).
    """
    batch = next(iter(trainer.data.query))
    with torch.no_grad():
        body = trainer.model.attention_map({k: (v[:count].to(trainer.device) if torch.is_tensor(v) else v)
                                            for k, v in batch.items()})
    records = [trainer.data.dataset.query[i] for i in batch["index"][:count].tolist()]
    masks = MaskSource(trainer.data.dataset.root)
    fig, axes = plt.subplots(3, count, figsize=(6.5, 4.6))
    for j, rec in enumerate(records):
        axes[0, j].imshow(read_image(rec.path).permute(1, 2, 0).numpy())
        axes[1, j].imshow(masks.load(rec.path) > 0, cmap="gray")
        axes[2, j].imshow(body[j, 0].cpu().numpy(), cmap="viridis", vmin=0, vmax=1)
    return finish_rows(fig, axes, ("image", "mask", "body map"))


# ---------------------------------------------------------------------------------------------- beyond the paper

BEYOND_ROWS = ("MSCAN-body RGB", "MSCAN-body RGB-M", "MGCAM RGB-M")


def background_rank1(row: str, results: list[dict], test_variants: dict[str, dict],
                     device: str = "auto") -> tuple[dict, list[dict]]:
    """One row's mean rank-1 (Euclidean) on each background variant of the test set.

    ``test_variants``: label -> test settings (:func:`reidlib.bias.background_tests`). Returns
    ``({"<label> rank-1": mean or "withdrawn"}, [withdrawn records])``; a variant any seed cannot be scored
    on here is withdrawn as a whole.
    """
    row_scores, gone = {}, []
    for label, test in test_variants.items():  # random-background scores from before rule v2 were on a leaking test set
        got = [evaluate_or_withdraw(r, test, f"{row}, seed {r['seed']}, {label} test set",
                                    LEAKY_RANDOM_BACKGROUND if label == "random background" else None, device=device)
               for r in results]
        lost = [g for g in got if isinstance(g, Withdrawn)]
        gone += [g.record() for g in lost]
        row_scores[f"{label} rank-1"] = WITHDRAWN if lost or not got else float(np.mean([g["rank1"] for g in got]))
    return row_scores, gone


def beyond_scores(runs: dict[str, list[dict]], test_variants: dict[str, dict], synthetic: bool,
                  device: str = "auto", rows=BEYOND_ROWS) -> tuple[dict[str, dict], list[dict]]:
    """Per row (shown name): rank-1 on each background variant and, for an attention model, its body map's quality.

    The body-map columns are :func:`reidlib.engine.records.attention_run_scores`' means over seeds (IoU of
    Phi+ with the person, contrast on and around it). Returns ``(rows, withdrawn records)``.
    """
    beyond, gone = {}, []
    for n in rows:
        row, lost = background_rank1(n, runs[n], test_variants, device)
        gone += lost
        if ABLATION_ROWS[n].get("model.options.attention", "none") != "none" and runs[n]:
            row.update(pd.DataFrame([attention_run_scores(r, "body_map", device=device) for r in runs[n]])
                       .mean().to_dict())
        beyond[shown_as(n, synthetic)] = row
    return beyond, gone


def beyond_table(beyond: dict[str, dict]) -> pd.DataFrame:
    """:func:`beyond_scores`' rows as a table, rows in :data:`ABLATION_ROWS` order and rank-1 columns first."""
    b = pd.DataFrame(beyond).T
    return b.loc[in_order(b.index), sorted(b.columns, key=lambda c: not c.endswith("rank-1"))]


def body_map_iou(table: pd.DataFrame) -> float:
    """MGCAM RGB-M's body-map IoU in :func:`beyond_table`, NaN where the table has none."""
    mgcam_row = next((n for n in table.index if n.startswith("MGCAM RGB-M")), None)
    return float(table.loc[mgcam_row, "iou"]) if mgcam_row and "iou" in table else float("nan")


def withdrawn_sentence(withdrawn: list[dict]) -> str:
    """How many scores are withdrawn and why, as prose; ``"every score shown"`` when none is."""
    reasons = sorted({w["reason"] for w in withdrawn})
    return f"{len(withdrawn)} scores {WITHDRAWN}, because {'; '.join(reasons)}" if reasons else "every score shown"


# ---------------------------------------------------------------------------------------------- video

VIDEO_ROWS = ["MSCAN-body RGB", "MSCAN-body RGB-M", "MGCAM RGB-M"]


def video_test(dataset: str) -> dict:
    """The test settings of the MARS protocol on ``dataset``'s tracklets (:mod:`reidlib.data.synth.video`)."""
    return {"data.test_dataset": dataset, "data.test_dataset_options": {"video": True}}


def tracklet_scores(video: pd.DataFrame) -> dict[str, list[dict]]:
    """Entry -> scores per seed on the tracklets, from :func:`reidlib.compare.retest` rows (withdrawn ones left out)."""
    kept = video[(video["test"] == "tracklets") & video["withdrawn"].isna()]
    return {n: [{"seed": r.seed, "rank1": r.rank1, "mAP": r.mAP, "num_valid_queries": r.num_valid_queries}
                for r in g.itertuples()] for n, g in kept.groupby("entry", sort=False)}


def video_claim(synthetic: bool) -> Claim:
    """MGCAM against MSCAN-body on tracklets (RGB-M, Euclidean), the paper's Table 3 comparison."""
    a, b = "MSCAN-body RGB-M", "MGCAM RGB-M"
    return paper_claim(
        f"MGCAM beats MSCAN-body on tracklets (RGB-M{', ' + ORACLE if oracle(a, b, synthetic=synthetic) else ''}, "
        "Euclidean)", shown_as(a, synthetic), shown_as(b, synthetic), (("3", f"{a} Euclidean"), ("3", f"{b} Euclidean")))


def video_table(video: list[dict]) -> pd.DataFrame:
    """Mean and sd (points, one decimal) of rank-1 and mAP per entry, on frames and on tracklets side by side."""
    v = pd.DataFrame(video)
    return (v.groupby(["entry", "test"], sort=False)[["rank1", "mAP"]].agg(["mean", "std"]) * 100).round(1).unstack("test")


# ---------------------------------------------------------------------------------------------- mask quality

TRUTH = "ground truth (oracle)"
MASK_MODELS = ["MSCAN-body Mask", "MSCAN-body Masked RGB", "MSCAN-body RGB-M", "MGCAM RGB-M"]


def mask_ious(truth: list[np.ndarray], segmenter_iou: float, degradations: list[str]) -> dict[str, float]:
    """Foreground IoU with the ground truth of each kind of test mask: the truth, the segmenter's, each degradation.

    ``truth``: the test images' true label maps; ``degradations``: :func:`reidlib.data.mask_quality.degrade` specs.
    """
    return {TRUTH: 1.0, "segmenter": segmenter_iou,
            **{d: mask_iou(np.stack([degrade(m, d) for m in truth]), np.stack(truth)) for d in degradations}}


def trained_on(degradation: str) -> str:
    """The name of the MGCAM RGB-M trained on masks degraded by ``degradation``."""
    return f"MGCAM RGB-M, trained on {degradation}"


def trained_on_overrides(degradation: str) -> list[str]:
    """The ``--set`` overrides of :func:`trained_on`'s model: MGCAM RGB-M with its training masks degraded."""
    return [*overrides("MGCAM RGB-M"), f"data.mask_degradation={degradation}"]


def mask_test_settings(segmented_test: dict, degradations: list[str]) -> dict[str, dict]:
    """Kind of test mask -> test settings: the truth, the segmenter's masks (``segmented_test``), each degradation."""
    return {TRUTH: {"data.test_mask_degradation": "none"}, "segmenter": segmented_test,
            **{d: {"data.test_mask_degradation": d} for d in degradations}}


def mask_quality(mask_runs: dict[str, list[dict]], settings: dict[str, dict], iou: dict[str, float],
                 device: str = "auto") -> pd.DataFrame:
    """Every model's runs tested with every kind of mask: one row per model, seed and kind of mask.

    Columns: ``model``, ``seed``, ``masks``, ``mask IoU`` (from ``iou``), ``rank1``, ``mAP``, ``num_valid_queries``.
    """
    return pd.DataFrame([{"model": n, "seed": r["seed"], "masks": label, "mask IoU": iou[label],
                          **{m: v for m, v in evaluate_run(r, test, device=device).items()
                             if m in ("rank1", "mAP", "num_valid_queries")}}
                         for n, rs in mask_runs.items() for r in rs for label, test in settings.items()])


def binomial_variance(p, n):
    """The binomial variance (points²) of a score ``p`` (a fraction) over ``n`` queries."""
    return 1e4 * np.clip(p, 0, 1) * (1 - np.clip(p, 0, 1)) / n


def mask_changes(quality: pd.DataFrame) -> dict[str, list[dict]]:
    """``"<model> | <masks>"`` -> per seed, what a model gains with wrong masks over its true-mask score.

    Each entry holds the change of ``rank1`` and ``mAP`` and, in ``test_var``, its test-set variance: the
    change is between two test sets, so the binomial variances of both scores add.
    """
    base = quality[quality["masks"] == TRUTH].set_index(["model", "seed"])
    changes = {}
    for (n, label), g in quality[quality["masks"] != TRUTH].groupby(["model", "masks"], sort=False):
        changes[f"{n} | {label}"] = [
            {"seed": s.seed, "num_valid_queries": s.num_valid_queries,
             **{m: getattr(s, m) - base.loc[(n, s.seed), m] for m in ("rank1", "mAP")},
             "test_var": {m: binomial_variance(getattr(s, m), s.num_valid_queries)
                          + binomial_variance(base.loc[(n, s.seed), m], base.loc[(n, s.seed), "num_valid_queries"])
                          for m in ("rank1", "mAP")}}
            for s in g.itertuples()]
    return changes


def mask_claims(labels: list[str]) -> list[Claim]:
    """Per kind of wrong mask: RGB-M keeps more of its mAP than the masked image (003:46, 226)."""
    return [Claim(f"RGB-M keeps more than the masked image with {label} masks", f"MSCAN-body Masked RGB | {label}",
                  f"MSCAN-body RGB-M | {label}", "mAP", None, +1,
                  source="003 line 46: RGB-M can use the image 'even in the worst case, i.e., the mask is totally "
                         "wrong'; line 226: masking fails 'in case of the mask is wrongly generated'")
            for label in labels]


def judge_mask_claims(quality: pd.DataFrame, labels: list[str], seeds: list[int], chance: float) -> pd.DataFrame:
    """:func:`mask_claims` judged by rule v2 on :func:`mask_changes`, one row per claim (``judge``'s columns).

    The test error is the binomial error of the four scores (two changes) instead of ``judge``'s, and the
    rule's floor applies to the model with the true masks, not to the change.
    """
    base = quality[quality["masks"] == TRUTH].set_index(["model", "seed"])
    changes = mask_changes(quality)
    claims = mask_claims(labels)
    judged = judge(changes, claims, seeds=seeds)  # its test error (binomial of a change) is replaced below
    for c in claims:
        if judged.loc[c.label, "verdict"] == WITHDRAWN:
            continue
        a, b = ({r["seed"]: r for r in changes[v]} for v in (c.without, c.with_))
        paired = sorted(set(a) & set(b))
        res = compare([100 * a[s][c.metric] for s in paired], [100 * b[s][c.metric] for s in paired], None,
                      c.direction,
                      test_var=float(np.mean([a[s]["test_var"][c.metric] + b[s]["test_var"][c.metric] for s in paired])))
        judged.loc[c.label, ["ours", "low", "high", "verdict", "size", "test error"]] = [
            res["ours"], res["low"], res["high"], res["verdict"], res["size"], f"{BINOMIAL}, four scores"]
        model = c.without.split(" | ")[0]
        floor = base.loc[model, "rank1"].mean()  # the rule's floor applies to the model, not the change
        if not learned(floor, chance):
            judged.loc[c.label, ["verdict", "note"]] = [
                NOT_TESTABLE, f"{model!r} did not learn: rank-1 {100 * floor:.1f} % with the true masks"]
    return judged

