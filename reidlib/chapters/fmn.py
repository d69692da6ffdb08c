"""The FMN chapter: Tables 1 and 5, re-ranking, the margin and alpha sweeps, where the mask looks, and Fig. 4.

*Let Features Decide for Themselves: Feature Mask Network for Person Re-identification* (Ding et al., 2017;
the study's paper ``004``). FMN trains a global network (GRN, the IDE baseline), then a mixing network that
turns GRN's global feature into a mask over an early GRN feature map, and a locally attentive network (LAN)
that learns from the masked map. Its descriptor joins both features.

The notebook ``notebooks/fmn.ipynb`` trains the variants (:func:`variants`), and calls these functions to test
the trained runs with other descriptors and test sets, judge the paper's claims by rule v2
(:mod:`reidlib.claims`) and build the tables and figures it shows. A result that cannot be computed from the
committed run records is *withdrawn*: the functions that score runs append its record to the ``withdrawn_records``
list they are given (the results file's ``withdrawn``), in the order the chapter computes them.
"""

from __future__ import annotations

from functools import partial

import numpy as np
import pandas as pd
import torch

from ..ablation import LEAKY_RANDOM_BACKGROUND, Claim, Withdrawn, evaluate_or_withdraw, judge, mean_std, metric_table
from ..claims import LEARNED_TIMES_CHANCE, NOT_TESTABLE, WITHDRAWN, learned
from ..data import read_image
from ..engine.records import MissingRunError, attention_run_scores, load_for_pictures
from ..eval import pairwise_distance
from ..eval.explain import first_matches
from ..papers import value
from ..viz import finish_rows

# Why a result is withdrawn (rule v2): runs without a committed record, and scores that no record holds.
NO_RECORD = "trained before run records were kept; retrained by the FA-Net / FMN chapter issue"
NOT_RECORDED = ("the run records hold no score of {} and the trained weights were not kept; "
                "scored again by the FA-Net / FMN chapter issue")
NO_WEIGHTS = ("the trained weights of the Pool1 runs were not kept (a picture is drawn from them); "
              "drawn again by the FA-Net / FMN chapter issue")
NO_RANKING_LOSS_RUN = "no run with the ranking loss's weight at 0: trained by the FA-Net / FMN chapter issue"
NO_LOCALITY_MEASURE = ("a direction read off Fig. 4's heat maps; the run records hold no measure of how local the "
                       "GRN's and the LAN's maps are, so there is no quantity to judge it on")

# Table 1's rows are one trained model tested with three descriptors (FMN's is the default).
DESCRIPTOR = {"GRN": {"model.options.descriptor": "grn"}, "LAN": {"model.options.descriptor": "lan"}, "FMN": {}}
# Table 5: the GRN feature map the mask multiplies (Pool1 is the default and Table 1's FMN).
LAYERS = ("Pool1", "Res2", "Res3", "Res4")
# The mask claim's two "variants": the mean of FMN's mask around the person and on it.
MASK_SIDES = {"FMN (mask around the person)": "outside", "FMN (mask on the person)": "inside"}
# Rerank scores kept in the results file, per descriptor (the mean over seeds).
RERANK_KEYS = ("rank1", "mAP", "rerank_rank1", "rerank_mAP")

paper_value = partial(value, "fmn", dataset="market1501")  # (table, row, metric): a number of the paper's, in percent


def common_overrides(profile: str, device: str, data_root: str | None = None) -> list[str]:
    """The ``--set`` overrides every run of the chapter shares: device, progress bars, data root."""
    return [f"device={device}", f"progress={profile != 'ci'}"] + ([f"data.data_root={data_root}"] if data_root else [])


def short_grn_note(fmn_config, ide_config) -> str:
    """The note of each claim against the GRN: its epochs (``fmn_config``'s ``grn`` stage) beside the IDE baseline's.

    ``fmn_config`` and ``ide_config`` are :func:`reidlib.engine.make_config` configs of one profile and dataset.
    """
    grn_epochs = next(s.epochs for s in fmn_config.schedule.stages if s.name == "grn")
    return (f"the GRN (the IDE baseline) trains {grn_epochs} epochs here where the IDE chapter's baseline trains "
            f"{ide_config.schedule.epochs}: a shorter schedule for the baseline, a known confound another issue fixes")


def variants(margins: list[float]) -> dict[str, list[str]]:
    """The trained variants, ``name -> overrides``: each masked layer of Table 5, then each ranking-loss margin."""
    named = {layer: [f"model.options.masked_layer={layer.lower()}"] for layer in LAYERS}
    named.update({f"margin {m:g}": [f"model.options.margin={m}"] for m in margins})
    return named


def why(rows: list[dict] | Withdrawn, seeds: list[int]) -> str | None:
    """Why a variant's results are withdrawn (a Withdrawn, or runs for fewer than every seed), else None."""
    return rows.reason if isinstance(rows, Withdrawn) else NO_RECORD if len(rows) < len(seeds) else None


def tested(rows: list[dict], test: dict, what: str, reason: str, device: str, withdrawn_records: list[dict]
           ) -> list[dict] | Withdrawn:
    """Each seed's scores of a variant's runs ``rows`` tested with ``test`` (test-time settings), or a Withdrawn.

    Scores are computed from a run's weights or read from its record
    (:func:`reidlib.ablation.evaluate_or_withdraw`). Where a seed's cannot
    be, the variant is withdrawn as a whole: its Withdrawn (``what``,
    ``reason``) is appended once to ``withdrawn_records`` and returned.
    Otherwise each score carries its run's ``seed``.
    """
    scores = [evaluate_or_withdraw(r, test, what, reason, device=device) for r in rows]
    gone = next((s for s in scores if isinstance(s, Withdrawn)), None)
    if gone is not None:
        withdrawn_records.append(gone.record())
        return gone
    return [{**s, "seed": r["seed"]} for s, r in zip(scores, rows)]


def summary(named: dict[str, list[dict] | Withdrawn], seeds: list[int],
            metrics: tuple[str, ...] = ("rank1", "mAP")) -> dict[str, dict]:
    """metric_table row of each variant with results for every seed; ``{"withdrawn": reason}`` for the others."""
    full = {n: r for n, r in named.items() if why(r, seeds) is None}
    table = metric_table(full, metrics).to_dict(orient="index") if full else {}
    return {n: table.get(n) or {WITHDRAWN: why(r, seeds)} for n, r in named.items()}


def ours(table: dict[str, dict], metric: str) -> list[str]:
    """``mean ± std`` (percent) per row of a :func:`summary`, or "withdrawn"."""
    return [WITHDRAWN if WITHDRAWN in row else mean_std(pd.DataFrame([row]), metric)[0] for row in table.values()]


def judged(named: dict[str, list[dict] | Withdrawn], claims: list[Claim], seeds: list[int], chance: float,
           withdrawn: dict[str, str] | None = None) -> list[dict]:
    """judge() by rule v2 (every seed, chance) as records; variants without results for every seed are withdrawn.

    ``withdrawn`` (variant -> reason) names variants that have no runs at all.
    """
    gone = {n: why(r, seeds) for n, r in named.items() if why(r, seeds) is not None} | dict(withdrawn or {})
    kept = {n: r for n, r in named.items() if n not in gone}
    rows = judge(kept, claims, seeds=seeds, chance=chance, withdrawn=gone).reset_index().to_dict(orient="records")
    for row in rows:  # both variants gone for one reason: say it once
        for reason in set(gone.values()):
            row["note"] = (row["note"] or "").replace(f"{reason}; {reason}", reason)
    return rows


def in_order(table: dict, names) -> dict:
    """``table`` (a dict) with ``names`` first, in that order (results files sort their keys)."""
    return {**{n: table[n] for n in names if n in table}, **table}


def delta(table: str, a: str, b: str, metric: str) -> float:
    """The paper's difference, row ``a`` minus row ``b`` of its ``table`` (points)."""
    return paper_value(table, a, metric) - paper_value(table, b, metric)


def paper_beside_ours(table: str, rows: dict[str, dict]) -> pd.DataFrame:
    """The paper's rank-1 and mAP of each row of its ``table`` beside ours (a :func:`summary`, in order)."""
    return pd.DataFrame({"paper rank-1": [paper_value(table, n, "rank1") for n in rows],
                         "ours rank-1": ours(rows, "rank1"),
                         "paper mAP": [paper_value(table, n, "mAP") for n in rows], "ours mAP": ours(rows, "mAP")},
                        index=list(rows))


# -- Table 1: GRN, LAN and both -----------------------------------------------------------------------------------

def descriptor_runs(pool1_runs: list[dict], device: str,
                    withdrawn_records: list[dict]) -> dict[str, list[dict] | Withdrawn]:
    """Table 1's rows: the Pool1 runs tested with GRN's and LAN's descriptors, and as trained (FMN's)."""
    return {name: pool1_runs if name == "FMN" else
            tested(pool1_runs, DESCRIPTOR[name], f"Table 1 {name} (the {name} descriptor of the Pool1 runs)",
                   NOT_RECORDED.format(f"{name}'s descriptor"), device, withdrawn_records)
            for name in ("GRN", "LAN", "FMN")}


def table1_claims(short_grn: str) -> list[Claim]:
    """Table 1's questions, one claim each, on mAP; a claim against the GRN notes its shorter schedule."""
    return [Claim("FMN beats GRN", "GRN", "FMN", "mAP", delta("1", "FMN", "GRN", "mAP"),
                  paper_rank1=delta("1", "FMN", "GRN", "rank1"), source=short_grn),
            Claim("FMN beats LAN", "LAN", "FMN", "mAP", delta("1", "FMN", "LAN", "mAP"),
                  paper_rank1=delta("1", "FMN", "LAN", "rank1")),
            Claim("LAN beats GRN", "GRN", "LAN", "mAP", delta("1", "LAN", "GRN", "mAP"),
                  paper_rank1=delta("1", "LAN", "GRN", "rank1"), source=short_grn)]


# -- Table 5: which layer to mask ---------------------------------------------------------------------------------

def table5_claims() -> list[Claim]:
    """Table 5's claims: the earliest map (Pool1) beats the later ones, on mAP."""
    return [Claim(f"masking {a} beats {b}", b, a, "mAP", delta("5", a, b, "mAP"), paper_rank1=delta("5", a, b, "rank1"))
            for a, b in (("Pool1", "Res4"), ("Pool1", "Res3"), ("Res2", "Res4"))]


# -- Tables 2-4: re-ranking ---------------------------------------------------------------------------------------

def reranked_runs(pool1_runs: list[dict], device: str,
                  withdrawn_records: list[dict]) -> dict[str, list[dict] | Withdrawn]:
    """The Pool1 runs tested with GRN's and FMN's descriptors, re-ranked (each score holds both rankings)."""
    return {name: tested(pool1_runs, {**DESCRIPTOR[name], "eval.rerank": True}, f"{name} re-ranked (the Pool1 runs)",
                         NOT_RECORDED.format(f"{name}'s descriptor re-ranked"), device, withdrawn_records)
            for name in ("GRN", "FMN")}


def rerank_summary(reranked: dict[str, list[dict] | Withdrawn], seeds: list[int]) -> dict[str, dict]:
    """Per descriptor, the mean over seeds of :data:`RERANK_KEYS`, or ``{"withdrawn": reason}``."""
    return {name: {WITHDRAWN: why(rows, seeds)} if why(rows, seeds) else
            pd.DataFrame(rows)[list(RERANK_KEYS)].mean().to_dict() for name, rows in reranked.items()}


def reranking_gains(reranked: dict[str, list[dict] | Withdrawn]) -> dict[str, list[dict] | Withdrawn]:
    """``"<name> re-ranking gain"`` -> per seed, re-ranked minus plain rank-1 and mAP (a Withdrawn stays one)."""
    return {f"{name} re-ranking gain": rows if isinstance(rows, Withdrawn) else
            [{"seed": r["seed"], "rank1": r["rerank_rank1"] - r["rank1"], "mAP": r["rerank_mAP"] - r["mAP"],
              "num_valid_queries": r["num_valid_queries"]} for r in rows] for name, rows in reranked.items()}


def rerank_claim(short_grn: str) -> Claim:
    """The re-ranking claim: a direction (Tables 2-4 have no re-ranked baseline), judged on the mAP gains."""
    return Claim("re-ranking adds more to FMN than to GRN", "GRN re-ranking gain", "FMN re-ranking gain", "mAP", None,
                 +1, source="004 line 289: 'Significant boosts are observed when the proposed features are used "
                            "along-with a re-ranking strategy' (a direction: no re-ranked baseline in Tables 2-4); "
                            "test error: the binomial formula on each gain, an underestimate (no per-query re-ranked "
                            "scores); " + short_grn)


def floor_on_grn(rows: list[dict], grn_rows: list[dict], chance: float) -> list[dict]:
    """Claim ``rows`` made *not testable* where the GRN's own rank-1 (mean of ``grn_rows``) is under the floor.

    judge() applies the floor to the ``without`` variant, here a gain; the
    floor belongs on the GRN's plain rank-1. Empty ``grn_rows`` (the GRN
    withdrawn) leave ``rows`` as they are. Changes ``rows`` in place and returns it.
    """
    for row in rows:
        if grn_rows and row["verdict"] != WITHDRAWN and not learned(np.mean([r["rank1"] for r in grn_rows]), chance):
            row.update(verdict=NOT_TESTABLE, size=None,
                       note=f"the GRN did not learn: rank-1 under {LEARNED_TIMES_CHANCE:g} x chance "
                            f"({100 * chance:.2f} %)")
    return rows


def judged_rerank(reranked: dict[str, list[dict] | Withdrawn], seeds: list[int], chance: float,
                  short_grn: str) -> list[dict]:
    """The re-ranking claim judged on the gains (rule v2), with the learned floor on the GRN's own rank-1."""
    rows = judged(reranking_gains(reranked), [rerank_claim(short_grn)], seeds, chance)
    grn_plain = reranked["GRN"] if not why(reranked["GRN"], seeds) else []  # the floor is on its rank-1, not a gain
    return floor_on_grn(rows, grn_plain, chance)


def rerank_table(rerank: dict[str, dict]) -> pd.DataFrame:
    """One row per descriptor of a :func:`rerank_summary`: :data:`RERANK_KEYS` in percent, or "withdrawn"."""
    return pd.DataFrame({n: {k: WITHDRAWN if WITHDRAWN in v else f"{100 * v[k]:.1f}" for k in RERANK_KEYS}
                         for n, v in rerank.items()}).T


# -- Small sweeps: the margin and alpha ---------------------------------------------------------------------------

def sweep_runs(runs: dict[str, list[dict]], default_margin: float, margins: list[float], alphas: list[float],
               device: str, withdrawn_records: list[dict]) -> dict[str, list[dict] | Withdrawn]:
    """The margin sweep (trained runs) and the alpha sweep (the Pool1 runs tested with another descriptor weight)."""
    sweep = {f"margin {default_margin:g} (default)": runs["Pool1"],
             **{f"margin {m:g}": runs[f"margin {m:g}"] for m in margins}}
    sweep.update({f"alpha {a:g}": tested(runs["Pool1"], {"model.options.alpha": a},
                                         f"alpha {a:g} (the Pool1 runs' descriptor)",
                                         NOT_RECORDED.format(f"alpha {a:g}"), device, withdrawn_records)
                  for a in alphas})
    return sweep


# -- Beyond the paper: where does the mask look? ------------------------------------------------------------------

def background_rank1(pool1_runs: list[dict], test_variants: dict[str, dict], seeds: list[int], device: str,
                     withdrawn_records: list[dict]) -> dict[str, dict]:
    """GRN's and FMN's mean rank-1 on each background variant of the test set (``"<label> rank-1"``), or "withdrawn".

    ``test_variants`` is :func:`reidlib.bias.background_tests`'s output.
    """
    beyond = {}
    for name in ("GRN", "FMN"):
        cols = {}
        for label, test in test_variants.items():
            reason = (LEAKY_RANDOM_BACKGROUND if label == "random background" and name == "FMN"
                      else NOT_RECORDED.format(f"{name}'s descriptor on the {label} test set"))
            rows = tested(pool1_runs, {**DESCRIPTOR[name], **test}, f"{name} {label} rank-1", reason, device,
                          withdrawn_records)
            cols[f"{label} rank-1"] = WITHDRAWN if why(rows, seeds) else float(np.mean([r["rank1"] for r in rows]))
        beyond[name] = cols
    return beyond


def mask_scores(pool1_runs: list[dict], device: str, withdrawn_records: list[dict]) -> list[dict | Withdrawn]:
    """Per Pool1 run, IoU, inside, outside and contrast of FMN's normalised mask on the true person masks.

    A run whose scores cannot be computed here gives a Withdrawn (each one appended to ``withdrawn_records``).
    """
    scores = []
    for run in pool1_runs:
        try:
            s = attention_run_scores(run, "mask_normalised", device=device)
        except MissingRunError:
            s = Withdrawn("FMN mask scores", NOT_RECORDED.format("FMN's mask"))
        if isinstance(s, Withdrawn):
            withdrawn_records.append(s.record())
        scores.append(s)
    return scores


def complete(scores: list[dict | Withdrawn]) -> bool:
    """Whether there are mask scores and none is withdrawn."""
    return bool(scores) and not any(isinstance(s, Withdrawn) for s in scores)


def mean_mask_scores(scores: list[dict | Withdrawn]) -> dict[str, float]:
    """The mean over runs of each :func:`mask_scores` key; empty unless every run has its scores."""
    return pd.DataFrame(scores).mean().to_dict() if complete(scores) else {}


def mask_sides(pool1_runs: list[dict], scores: list[dict | Withdrawn]) -> dict[str, list[dict]]:
    """The mask claim's two variants, :data:`MASK_SIDES`: per seed, the mask's mean on that side.

    Each row is a per-seed result whose "metric" is ``mask``, with the run's
    rank-1 (the claim's floor) and the scored images as its queries. Both
    lists are empty unless every run has its scores.
    """
    rows = {side: [] for side in MASK_SIDES}
    if complete(scores):
        for run, s in zip(pool1_runs, scores):  # the mask's mean on each side, as per-seed results (images as queries)
            for side, key in MASK_SIDES.items():
                rows[side].append({"seed": run["seed"], "mask": s[key], "rank1": run["rank1"],
                                   "num_valid_queries": s["images"]})
    return rows


def mask_claim() -> Claim:
    """The mask claim: higher on the person than around it (a direction read off the text), on the contrast."""
    return Claim("FMN's mask is higher on the person than around it", *MASK_SIDES, "mask", None, +1,
                 source="004 line 30: 'filter out the irrelevant image parts'; line 78: boxes 'may contain excessive "
                        "background' (a direction read off the text); the mask scaled to its per-image maximum, on "
                        "SynthReID's ground-truth person masks; the floor is the FMN's own rank-1")


def judged_mask(sides: dict[str, list[dict]], seeds: list[int], chance: float) -> list[dict]:
    """The mask claim judged by rule v2 on :func:`mask_sides`' rows."""
    rows = judged(sides, [mask_claim()], seeds, chance)
    for row in rows:
        row["rank-1 ours"] = float("nan")  # (both sides are one model: no rank-1 difference)
    return rows


def number(v) -> float:
    """``v`` as a float, NaN where it is not a number (a missing or withdrawn score)."""
    return float(v) if isinstance(v, (int, float)) else float("nan")


def background_table(beyond: dict[str, dict], test_labels) -> pd.DataFrame:
    """GRN and FMN, each test variant's rank-1 (percent) and the mask's scores; empty where a row has none."""
    def cell(col, v):
        return v if isinstance(v, str) else f"{100 * v:.1f}" if col.endswith("rank-1") else f"{v:.3f}"  # rank-1 in %

    columns = [f"{label} rank-1" for label in test_labels] + ["iou", "inside", "outside", "contrast"]
    return pd.DataFrame({n: {col: cell(col, row[col]) if col in row else "" for col in columns}
                         for n, row in in_order(beyond, ("GRN", "FMN")).items()}).T


# -- Pictures: the mask, and Fig. 4 -------------------------------------------------------------------------------

def mask_figure(trainer, count: int = 5):
    """A figure of ``count`` query images of a trained FMN (top) and its normalised mask at the masked layer (below)."""
    import matplotlib.pyplot as plt

    batch = next(iter(trainer.data.query))
    with torch.no_grad():
        out = trainer.model({k: (v[:count].to(trainer.device) if torch.is_tensor(v) else v) for k, v in batch.items()})
    records = [trainer.data.dataset.query[i] for i in batch["index"][:count].tolist()]
    fig, axes = plt.subplots(2, count, figsize=(6.5, 3.4))
    for j, rec in enumerate(records):
        axes[0, j].imshow(read_image(rec.path).permute(1, 2, 0).numpy())
        axes[1, j].imshow(out["mask_normalised"][j, 0].cpu().numpy(), cmap="viridis", vmin=0, vmax=1)
    return finish_rows(fig, axes, ("image", "FMN mask"))


def grn_and_fmn_matches(run: dict, device: str):
    """Each test query's first match with GRN's and with FMN's descriptor, for one trained model.

    Returns ``(ranked, trainer, query, gallery)``: ``ranked["grn"]`` and
    ``ranked["fmn"]`` are :func:`reidlib.eval.explain.first_matches` tables,
    ``trainer`` the model loaded with FMN's descriptor (its test sets and
    activation maps draw Fig. 4) and ``query``, ``gallery`` its test records.
    Raises :class:`~reidlib.engine.records.MissingRunError` where the weights are not here.
    """
    ranked = {}
    for name in ("grn", "fmn"):
        trainer = load_for_pictures(run, {"model.options.descriptor": name}, device=device)
        (q, query), (g, gallery) = trainer.features("query"), trainer.features("gallery")
        ranked[name] = first_matches(pairwise_distance(q, g), [r.pid for r in query], [r.pid for r in gallery],
                                     [r.camid for r in query], [r.camid for r in gallery])
    return ranked, trainer, query, gallery


def fixed_queries(ranked: dict[str, pd.DataFrame]) -> pd.Series:
    """Per query, whether GRN's rank-1 is wrong and FMN's right."""
    return (~ranked["grn"]["rank1_correct"]) & ranked["fmn"]["rank1_correct"]


def fig4_counts(ranked: dict[str, pd.DataFrame], queries: int, seed: int) -> dict:
    """How many of the ``queries`` FMN's descriptor fixes (GRN wrong, FMN right) and breaks, for the run ``seed``."""
    fixed = fixed_queries(ranked)
    broken = ranked["grn"]["rank1_correct"] & (~ranked["fmn"]["rank1_correct"])
    return {"queries": queries, "grn_wrong_fmn_right": int(fixed.sum()), "grn_right_fmn_wrong": int(broken.sum()),
            "seed": seed}


def hard_queries(ranked: dict[str, pd.DataFrame], count: int = 3) -> np.ndarray:
    """Up to ``count`` query indices: GRN wrong and FMN right first, then other queries GRN gets wrong."""
    fixed = fixed_queries(ranked).to_numpy()
    grn_wrong = ~ranked["grn"]["rank1_correct"].to_numpy()
    return np.concatenate([np.flatnonzero(fixed), np.flatnonzero(grn_wrong & ~fixed)])[:count]


def fig4_figure(trainer, ranked: dict[str, pd.DataFrame], query: list, gallery: list, hard):
    """Fig. 4 for the ``hard`` queries: query, GRN's rank-1 and FMN's (top row), GRN's and LAN's maps below.

    The maps are the norm over channels of each network's last feature map,
    scaled to its maximum (:meth:`activation_maps`), over the pictured image.
    """
    import matplotlib.pyplot as plt

    test_images = trainer.data.query.dataset, trainer.data.gallery.dataset  # test transforms, in record order
    triples = [(test_images[0][i], test_images[1][ranked["grn"]["rank1_index"][i]],
                test_images[1][ranked["fmn"]["rank1_index"][i]]) for i in hard]
    images = torch.stack([s["image"] for triple in triples for s in triple])
    maps = trainer.model.activation_maps(images.to(trainer.device))
    shown_images = [read_image(rec.path) for i in hard for rec in (query[i], gallery[ranked["grn"]["rank1_index"][i]],
                                                                   gallery[ranked["fmn"]["rank1_index"][i]])]
    fig, axes = plt.subplots(3, 3 * len(hard), figsize=(2.2 * 3 * len(hard) / 2, 5.2), squeeze=False)
    for j, img in enumerate(shown_images):
        pic = img.permute(1, 2, 0).numpy()
        axes[0, j].imshow(pic)
        fmn_right = bool(ranked["fmn"]["rank1_correct"][hard[j // 3]])
        titles = ("query", "GRN rank-1\n(wrong)", f"FMN rank-1\n({'right' if fmn_right else 'wrong'})")
        axes[0, j].set_title(titles[j % 3], fontsize=7)
        for row, key in ((1, "grn"), (2, "lan")):
            heat = torch.nn.functional.interpolate(maps[key][j][None, None].cpu(), size=pic.shape[:2],
                                                   mode="bilinear")[0, 0]
            axes[row, j].imshow(pic)
            axes[row, j].imshow(heat.numpy(), cmap="jet", alpha=0.5, vmin=0, vmax=1)
    return finish_rows(fig, axes, ("image", "GRN", "LAN"))


# -- Claims the chapter had skipped -------------------------------------------------------------------------------

def ranking_loss_claim() -> Claim:
    """Eq. 5's ranking loss makes the LAN's predictions more confident and accurate: FMN with and without it."""
    return Claim("the ranking loss raises mAP", "FMN without the ranking loss", "FMN", "mAP", None, +1,
                 source="004 line 146: the ranking loss leads 'to more confident and accurate predictions' "
                        "(a direction)")


def locality_claim() -> Claim:
    """Fig. 4: the LAN looks at local details (shoes, bags, apparel) where the GRN looks at the torso."""
    return Claim("LAN looks at local details where GRN looks at the torso", "GRN heat map", "LAN heat map",
                 "locality", None, +1, source="004 lines 253 and 260 (Fig. 4): a direction read off a figure")


def judged_skipped(pool1_runs: list[dict], seeds: list[int], chance: float) -> tuple[list[dict], list[dict]]:
    """(the ranking-loss claim, the heat-map claim) judged: both withdrawn here, each with its reason."""
    ranking = judged({"FMN": pool1_runs}, [ranking_loss_claim()], seeds, chance,
                     withdrawn={"FMN without the ranking loss": NO_RANKING_LOSS_RUN})
    locality = judged({}, [locality_claim()], seeds, chance,
                      withdrawn={heat_map: NO_LOCALITY_MEASURE for heat_map in ("GRN heat map", "LAN heat map")})
    return ranking, locality
