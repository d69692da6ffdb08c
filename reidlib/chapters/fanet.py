"""The FA-Net chapter: its variants, the paper's claims (Tables I-IV, Fig. 5), the unseen scenes and the figures.

FA-Net ("An End-to-End Foreground-Aware Network for Person Re-Identification", paper ``000``) splits
the backbone into a foreground branch that classifies people and a background branch that classifies
cameras; every row of its ablation is a setting of :data:`reidlib.models.fanet.ABLATION_ROWS`. The notebook
``notebooks/fanet.ipynb`` trains the variants, then calls these functions for the claims, tables and figures.
"""

from __future__ import annotations

from functools import partial

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from ..ablation import (
    LEAKY_RANDOM_BACKGROUND,
    Claim,
    Withdrawn,
    evaluate_or_withdraw,
    judge,
    mean_std,
    metric_table,
    run_variants,
)
from ..bias import background_tests
from ..data import read_image
from ..data.catalog import open_dataset
from ..engine.records import attention_run_scores, evaluate_run
from ..eval import chance_rank1
from ..models.fanet import ABLATION_ROWS
from ..papers import reported, value
from ..viz import finish_rows

# The paper's main tables are on Market-1501; Table III names its datasets as "train->test".
PAPER_DATASET = "market1501"
PAPER_ROW = {"B/L": "Baseline"}  # our variant names are the paper's, but for its baseline

# Table I adds one component per row; Table II varies the form of the target attention loss.
TABLE1 = ["B/L", "B/L+TEM", "B/L+TEM+BG", "B/L+TEM+BG+IA", "B/L+TEM+BG+IA+TAL", "FA-Net"]
TABLE2 = ["B/L+TEM+BG+IA", "B/L+TEM+BG+IA+TALv1", "B/L+TEM+BG+IA+TALv2", "B/L+TEM+BG+IA+TAL"]
# (component, row without it, row with it): the five steps of Table I, one claim each.
STEPS = [("TEM", "B/L", "B/L+TEM"), ("BG", "B/L+TEM", "B/L+TEM+BG"), ("IA", "B/L+TEM+BG", "B/L+TEM+BG+IA"),
         ("TAL", "B/L+TEM+BG+IA", "B/L+TEM+BG+IA+TAL"), ("HPP", "B/L+TEM+BG+IA+TAL", "FA-Net")]
TAL_VARIANTS = ("TALv1", "TALv2")  # the two other forms of the attention loss, each judged against TAL

# A control the paper did not train, and who trains it: without runs for every seed its claims are withdrawn.
CONTROLS = {"B/L+HPP": "needs the B/L + HPP control, trained by the FA-Net / FMN chapter issue"}

K_SOURCE = ("000 lines 696 and 718-722: Fig. 5 plots rank-1 against k; the text calls k = 256 best and says "
            "rank-1 drops at k = 1 on both datasets (a direction, no number)")
PARAMS_SOURCE = ("000 lines 866-887: the paper credits the gain to better feature extraction rather than more "
                 "parameters; the B/L+HPP control is the study's, so the claim has a direction only")

# The Table I rows also trained on scene family B (B->A); the other steps' claims are withdrawn.
TRAINED_ON_B = ("B/L", "FA-Net")
RANDOM = "random background rank-1"  # the column of the random-background test set in the "beyond" table


def variant_overrides(name: str, **extra) -> list[str]:
    """The ``--set`` overrides of ablation row ``name``, ``extra`` options changed: ``["model.options.a=b", ...]``."""
    return [f"model.options.{a}={b}" for a, b in {**ABLATION_ROWS[name], **extra}.items()]


def variants(ks: list[int]) -> dict[str, list[str]]:
    """Every variant the chapter trains, name -> overrides: the ablation rows, FA-Net at each k of ``ks``, a control."""
    out = {name: variant_overrides(name) for name in ABLATION_ROWS}
    out.update({f"FA-Net k={k}": variant_overrides("FA-Net", k=k) for k in ks})
    # the control the paper did not train: the head without the attention modules
    out["B/L+HPP"] = variant_overrides("B/L", hpp=True)
    return out


def missing_controls(runs: dict[str, list[dict]], seeds: list[int]) -> dict[str, str]:
    """The controls of :data:`CONTROLS` lacking a run for some seed, name -> why (:func:`judged`'s ``withdrawn``)."""
    return {n: why for n, why in CONTROLS.items() if len(runs[n]) < len(seeds)}


def judged(scores: dict[str, list[dict]], claims: list[Claim], seeds: list[int], chance: float | None,
           withdrawn: dict[str, str] | None = None) -> list[dict]:
    """The book's rule (rule v2, :func:`reidlib.ablation.judge`) on ``scores`` (variant -> per seed), as records."""
    table = judge(scores, claims, seeds=seeds, chance=chance, withdrawn=withdrawn)
    return table.reset_index().to_dict(orient="records")


def paper_value(table: str, row: str, metric: str, dataset: str = PAPER_DATASET) -> float:
    """A number of the paper's (percent) for our variant ``row`` of ``table``, on ``dataset``."""
    return value("fanet", table, PAPER_ROW.get(row, row), metric, dataset=dataset)


def paper_step(a: str, b: str, metric: str, table: str = "I", dataset: str = PAPER_DATASET) -> float:
    """The paper's difference from row ``a`` to row ``b`` (points, one decimal)."""
    return round(paper_value(table, b, metric, dataset) - paper_value(table, a, metric, dataset), 1)


def step_claims(table: str = "I", dataset: str = PAPER_DATASET, where: str = "") -> list[Claim]:
    """One claim per step of Table I (:data:`STEPS`), on mAP with rank-1 beside it; ``where`` ends each label."""
    return [Claim(f"+{c} raises mAP{where}", a, b, "mAP", paper_step(a, b, "mAP", table, dataset),
                  paper_rank1=paper_step(a, b, "rank1", table, dataset))
            for c, a, b in STEPS]


def table2_claims() -> list[Claim]:
    """Table II: TAL against each other form of the attention loss (:data:`TAL_VARIANTS`), on mAP."""
    tal = "B/L+TEM+BG+IA+TAL"
    return [Claim(f"TAL beats {v} on mAP", f"B/L+TEM+BG+IA+{v}", tal, "mAP",
                  paper_step(f"B/L+TEM+BG+IA+{v}", tal, "mAP", "II"),
                  paper_rank1=paper_step(f"B/L+TEM+BG+IA+{v}", tal, "rank1", "II"))
            for v in TAL_VARIANTS]


def paper_beside_ours(table: pd.DataFrame, paper_table: str) -> pd.DataFrame:
    """The paper's rank-1 and mAP (Market-1501) beside ours (mean ± std in percent) for each row of a metric table."""
    return pd.DataFrame({
        "paper rank-1": [paper_value(paper_table, n, "rank1") for n in table.index],
        "ours rank-1": mean_std(table, "rank1"),
        "paper mAP": [paper_value(paper_table, n, "mAP") for n in table.index],
        "ours mAP": mean_std(table, "mAP")}, index=table.index)


def final_losses(runs: dict[str, list[dict]], names: list[str]) -> dict[str, dict[str, float]]:
    """The person (``id``) and attention (``tal``) losses of each variant's last epoch, mean over its seeds."""
    final = {n: pd.DataFrame([r["history"][-1] for r in runs[n]]).mean(numeric_only=True) for n in names}
    return {n: {k: float(v[k]) for k in ("id", "tal") if k in v} for n, v in final.items()}


def gain_text(shown: dict, weights: dict[str, float]) -> str:
    """Markdown: how much of FA-Net's lead each step brings, and how far the person loss fell with each form of TAL.

    ``shown`` holds ``table1``, ``table2``, ``final_losses``, ``num_train_ids`` and ``profile`` (the
    results a chapter shows); ``weights`` are the loss weights of FA-Net's configuration.
    """
    t1s, fl, n_ids = pd.DataFrame(shown["table1"]).T, shown["final_losses"], shown["num_train_ids"]
    t2s = pd.DataFrame(shown["table2"]).T
    guess = np.log(n_ids)

    def r1(t, n):
        return 100 * t.loc[n, "rank1 mean"]

    gain, hpp = r1(t1s, "FA-Net") - r1(t1s, "B/L"), r1(t1s, "FA-Net") - r1(t1s, "B/L+TEM+BG+IA+TAL")
    ends = {v: fl[f"B/L+TEM+BG+IA+{v}"]["id"] for v in ("TALv1", "TALv2", "TAL")}
    near = [v for v in ("TALv1", "TALv2") if ends[v] > 0.9 * guess]  # forms that left the person loss near guessing
    return (
        f"At the `{shown['profile']}` profile FA-Net is {gain:+.1f} points of rank-1 from the baseline; the four steps "
        f"before HPP change rank-1 by {gain - hpp:+.1f} together, and the last, +HPP, by {hpp:+.1f}. "
        f"The person loss ended at {ends['TALv1']:.2f} with TALv1, {ends['TALv2']:.2f} with TALv2 and "
        f"{ends['TAL']:.2f} with TAL, against {guess:.2f} for guessing among {n_ids} identities (log {n_ids}); "
        f"{fl['B/L+TEM+BG+IA']['id']:.2f} without any attention loss. "
        + (f"With {' and '.join(near)} the network never learned to tell the people apart (rank-1 "
           + ", ".join(f"{r1(t2s, f'B/L+TEM+BG+IA+{v}'):.1f} %" for v in near)
           + f"): an attention loss on unnormalised features is lowest when the features are zero, and it weighs "
           f"{weights['tal']:g} in the total loss against the person loss's {weights['id']:g}. Eq. 4 divides each "
           "channel by its spatial L2 norm, so its minimum cannot be reached by shrinking the features, which is what "
           "the normalisation is for."
           if near else "Every form of the loss left the person loss well below guessing."))


def k_runs(runs: dict[str, list[dict]], ks: list[int], k_default: int) -> dict[int, list[dict]]:
    """Fig. 5's runs, k -> results per seed: the ``FA-Net k=...`` variants, and FA-Net itself at its own k."""
    out = {k: runs[f"FA-Net k={k}"] for k in ks}
    out[k_default] = runs["FA-Net"]
    return out


def k_table(runs: dict[str, list[dict]], ks: list[int], k_default: int) -> dict[str, dict]:
    """Rank-1 and mAP (mean and std over seeds) per k, in increasing k: ``{"1": {"rank1 mean": ...}, ...}``."""
    return {str(k): metric_table({"x": r}, ("rank1", "mAP")).loc["x"].to_dict()
            for k, r in sorted(k_runs(runs, ks, k_default).items())}


def k_claims(ks: list[int], k_default: int) -> list[Claim]:
    """Fig. 5's claim, FA-Net's own k beats k = 1 on rank-1 (a direction only); none when k = 1 is not trained.

    The claim compares the variants ``FA-Net k=1`` and ``FA-Net k=<k_default>``: judge it on the
    runs with FA-Net's added under the second name.
    """
    return [Claim(f"k={k_default} beats k=1 on rank-1", "FA-Net k=1", f"FA-Net k={k_default}", "rank1",
                  None, +1, source=K_SOURCE)] if 1 in ks else []


def k_figure(table: pd.DataFrame, dataset: str):
    """Fig. 5: rank-1 (mean ± std, percent) against k, from a frame indexed by k as text (:func:`k_table`'s, turned)."""
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.errorbar([int(k) for k in table.index], 100 * table["rank1 mean"], yerr=100 * table["rank1 std"],
                marker="o", capsize=3)
    ax.set(xscale="log", xlabel="k (maps averaged in TEM)", ylabel="rank-1 (%)", title=f"FA-Net on {dataset}")
    ax.set_xticks([int(k) for k in table.index], [str(k) for k in table.index])
    fig.tight_layout()
    return fig


def unseen_directions(dataset: str, unseen_dataset: str | None = None,
                      unseen_data_root: str | None = None) -> dict[str, tuple[str, list[str] | None, dict]]:
    """Table III's directions: name -> (the paper's dataset pair, training overrides or None, test settings).

    On SynthReID: scene family A (the default) <-> B, other people (dataset seed 1); ``None`` training
    overrides mean the chapter's own runs (trained on family A) are tested. On a real dataset: one
    direction, to ``unseen_dataset``; none when it is not given.
    """
    if dataset.startswith("synth-"):
        return {"A->B": ("market1501->dukemtmc", None, {"data.test_dataset": dataset,
                                                        "data.test_dataset_options": {"scene_family": "B", "seed": 1}}),
                "B->A": ("dukemtmc->market1501", ["data.dataset_options={scene_family: B}"],
                         {"data.test_dataset": dataset, "data.test_dataset_options": {"scene_family": "A", "seed": 1}})}
    if unseen_dataset:
        return {f"{dataset}->{unseen_dataset}": (f"{dataset}->{unseen_dataset}", None,
                                                 {"data.test_dataset": unseen_dataset,
                                                  "data.test_data_root": unseen_data_root})}
    return {}


def unseen_claims(direction: str, paper_dataset: str) -> list[Claim]:
    """Table III's claims for one direction: FA-Net against B/L, and each step of Table I, on unseen scenes."""
    step = partial(paper_step, table="III", dataset=paper_dataset)
    return ([Claim(f"FA-Net beats B/L on unseen scenes, {direction}", "B/L", "FA-Net", "mAP",
                   step("B/L", "FA-Net", "mAP"), paper_rank1=step("B/L", "FA-Net", "rank1"))]
            + step_claims("III", paper_dataset, f" on unseen scenes, {direction}"))


def chance_of_test(test: dict) -> float:
    """Rank-1 of a random ranking of the test set that ``test`` (``load_run`` settings of a test dataset) names."""
    return chance_rank1(open_dataset(test["data.test_dataset"], test.get("data.test_data_root"),
                                     **test.get("data.test_dataset_options", {})))


def table3(runs: dict[str, list[dict]], directions: dict, *, variants: dict[str, list[str]], profile: str,
           seeds: list[int], dataset: str, common: list[str], withdrawn: dict[str, str],
           device: str = "auto") -> dict:
    """Table III: the Table I rows tested on unseen scenes in each of ``directions`` (:func:`unseen_directions`).

    A direction with training overrides trains (or reads back) :data:`TRAINED_ON_B` from ``variants`` with
    them. Returns the results' ``unseen`` (direction -> metric table), ``unseen_chance_rank1``
    (direction -> chance) and ``unseen_claims`` (judged records; ``withdrawn`` as for :func:`judged`),
    or nothing without directions.
    """
    if not directions:
        return {}
    tables, judged3, chances = {}, [], {}
    for direction, (paper_ds, train_overrides, test) in directions.items():
        if train_overrides is None:
            trained = {n: runs[n] for n in TABLE1}
        else:
            trained = run_variants("fanet", profile, {n: variants[n] for n in TRAINED_ON_B}, seeds, dataset,
                                   [*common, *train_overrides])
        scores = {n: [{**evaluate_run(r, test, device=device), "seed": r["seed"]} for r in results]
                  for n, results in trained.items()}
        tables[direction] = metric_table(scores).to_dict(orient="index")
        chances[direction] = chance_of_test(test)
        if paper_ds in set(reported("fanet", "III")["dataset"]):
            untrained = {n: f"{n} is not trained for {direction} (only {' and '.join(trained)} are)"
                         for n in TABLE1 if n not in trained}
            judged3 += judged(scores, unseen_claims(direction, paper_ds), seeds, chances[direction],
                              {**withdrawn, **untrained})
    return {"unseen": tables, "unseen_chance_rank1": chances, "unseen_claims": judged3}


def unseen_view(table: dict, direction: str) -> pd.DataFrame:
    """One direction of Table III as shown: rank-1 and mAP, mean ± std in percent, per row."""
    t = pd.DataFrame(table).T
    return pd.DataFrame({"rank-1": mean_std(t, "rank1"), "mAP": mean_std(t, "mAP")},
                        index=pd.Index(t.index, name=f"trained and tested {direction}"))


def parameters_claim() -> Claim:
    """FA-Net against the B/L+HPP control (the same head without attention): a direction only, no paper number."""
    return Claim("FA-Net beats the B/L+HPP control on mAP", "B/L+HPP", "FA-Net", "mAP", None, +1,
                 source=PARAMS_SOURCE)


def branch_figure(trainer, count: int = 5):
    """Fig. 7: the first ``count`` query images of ``trainer``, FA-Net's maps F, Zf, B and Zb = 1 - Zf below each."""
    batch = next(iter(trainer.data.query))
    maps = trainer.model.feature_maps(batch["image"][:count].to(trainer.device))
    maps["Zb"] = 1 - maps["Zf"]
    records = [trainer.data.dataset.query[i] for i in batch["index"][:count].tolist()]
    fig, axes = plt.subplots(5, count, figsize=(6.5, 7))
    for j, rec in enumerate(records):
        axes[0, j].imshow(read_image(rec.path).permute(1, 2, 0).numpy())
        for i, key in enumerate(("F", "Zf", "B", "Zb"), start=1):
            mask = key.startswith("Z")  # masks on a fixed 0-1 scale, features on their own
            axes[i, j].imshow(maps[key][j].cpu().numpy(), cmap="viridis", vmin=0 if mask else None,
                              vmax=1 if mask else None)
    return finish_rows(fig, axes, ("image", "F", "Zf", "B", "Zb"))


def background_variants(dataset: str, mask_root: str | None = None) -> dict[str, dict]:
    """The test sets of the "beyond" table: original, mean- and random-background (SynthReID, or a real dataset
    with ``mask_root``); the original alone for a real dataset without masks."""
    if dataset.startswith("synth-"):
        return background_tests()
    return {"original": {}} if mask_root is None else background_tests(mask_root=mask_root)


def run_background_scores(run: dict, name: str, tests: dict[str, dict],
                          device: str = "auto") -> tuple[dict[str, float], list[Withdrawn]]:
    """One run of variant ``name`` on each test set of ``tests``: ``({"<test> rank-1": score}, [withdrawn scores])``."""
    scores, lost = {}, []
    for label, test in tests.items():
        if label == "random background":  # the scores of the leaking test set are gone from the records
            s = evaluate_or_withdraw(run, test, f"{RANDOM} of {name}", LEAKY_RANDOM_BACKGROUND, device=device)
        else:
            s = evaluate_run(run, test, device=device)
        if isinstance(s, Withdrawn):
            lost.append(s)
        else:
            scores[f"{label} rank-1"] = s["rank1"]
    return scores, lost


def beyond_scores(runs: dict[str, list[dict]], names: list[str], tests: dict[str, dict], dataset: str,
                  mask_root: str | None = None, device: str = "auto") -> tuple[dict, list[Withdrawn]]:
    """Per variant of ``names``: its rank-1 on each background test set and, with TEM, Zf's IoU and contrast.

    Returns ``(variant -> mean over seeds of each score, [Withdrawn])``; a variant whose random-background
    score some seed lacks loses that column and lists its first :class:`Withdrawn`.
    """
    beyond, gone = {}, []
    for n in names:
        per_seed, lost = [], []
        for r in runs[n]:
            row_scores, lost_here = run_background_scores(r, n, tests, device)
            lost += lost_here
            if ABLATION_ROWS[n]["tem"] and (dataset.startswith("synth-") or mask_root):
                row_scores.update(attention_run_scores(r, "zf", mask_root, device=device))
            per_seed.append(row_scores)
        if lost:  # a mean over some seeds only is not shown: the row's random-background score is withdrawn
            gone.append(lost[0])
            per_seed = [{k: v for k, v in s.items() if k != RANDOM} for s in per_seed]
        beyond[n] = pd.DataFrame(per_seed).mean(numeric_only=True).to_dict()
    return beyond, gone


def random_withdrawn(withdrawn: list[dict]) -> dict[str, str]:
    """Variant -> why its random-background rank-1 is withdrawn, from the results' ``withdrawn`` records."""
    return {w["result"].removeprefix(f"{RANDOM} of "): w["reason"] for w in withdrawn if w["result"].startswith(RANDOM)}


def random_background_sentence(beyond: pd.DataFrame, out: dict[str, str]) -> str:
    """What the prose says of the random-background test: FA-Net's and B/L's rank-1, why it is withdrawn, or neither.

    ``beyond``: variant -> scores (:func:`beyond_scores`'s, as a frame); ``out``: :func:`random_withdrawn`'s.
    """
    kept = {n: float(beyond.loc[n, RANDOM]) for n in ("FA-Net", "B/L")
            if RANDOM in beyond and pd.notna(beyond.loc[n, RANDOM])}  # (NaN: not scored)
    if len(kept) == 2:
        return f"with random backgrounds it keeps {kept['FA-Net']:.1%} rank-1, the baseline {kept['B/L']:.1%}"
    if out:
        return f"rank-1 with random backgrounds is withdrawn for {', '.join(out)}: {next(iter(out.values()))}"
    return "no random-background test was run here"


def beyond_table(beyond: pd.DataFrame, out: dict[str, str]) -> pd.DataFrame:
    """The "beyond" table as shown: scores to two decimals, blanks where not scored, "withdrawn" where withdrawn."""
    cols = [c for c in ("original rank-1", "mean background rank-1", RANDOM, "iou", "contrast")
            if c in beyond or (c == RANDOM and out)]
    view = beyond.reindex(columns=cols).astype(object)
    for n in out:
        view.loc[n, RANDOM] = "withdrawn"
    return view.map(lambda v: v if isinstance(v, str) else "" if pd.isna(v) else f"{v:.2f}")


def rerank_scores(runs: dict[str, list[dict]], names: tuple[str, ...] = ("B/L", "FA-Net"),
                  device: str = "auto") -> dict[str, list[dict]]:
    """Each variant's runs evaluated with and without k-reciprocal re-ranking (no retraining), with their seeds."""
    return {n: [{**evaluate_run(r, {"eval.rerank": True}, device=device), "seed": r["seed"]} for r in runs[n]]
            for n in names}


def rerank_means(scores: dict[str, list[dict]]) -> dict[str, dict[str, float]]:
    """Mean over seeds of rank-1 and mAP with and without re-ranking, per variant that has scores."""
    return {n: pd.DataFrame(d)[["rank1", "mAP", "rerank_rank1", "rerank_mAP"]].mean().to_dict()
            for n, d in scores.items() if d}


def with_rerank(scores: list[dict]) -> dict[str, list[dict]]:
    """FA-Net's scores as two variants, ``FA-Net`` and ``FA-Net+RK`` (its re-ranked scores), for :func:`judged`."""
    # FA-Net+RK: the re-ranked scores of the same runs (no per-query scores: the test error is binomial)
    return {"FA-Net": scores,
            "FA-Net+RK": [{"seed": s["seed"], "rank1": s["rerank_rank1"], "mAP": s["rerank_mAP"],
                           "num_valid_queries": s["num_valid_queries"]} for s in scores]}


def rerank_claim() -> Claim:
    """Table IV: re-ranking raises FA-Net's mAP (rank-1 beside it)."""
    return Claim("re-ranking raises FA-Net's mAP", "FA-Net", "FA-Net+RK", "mAP",
                 paper_step("FA-Net", "FA-Net+RK", "mAP", "IV"),
                 paper_rank1=paper_step("FA-Net", "FA-Net+RK", "rank1", "IV"))


def tal_by_hand(F: torch.Tensor, B: torch.Tensor, Zf: torch.Tensor) -> torch.Tensor:
    """The target attention loss (Eq. 4) by plain loops over images and channels: the exercise's independent reference.

    ``F`` and ``B`` are (N, C, H, W) features, ``Zf`` an (N, 1, H, W) mask; returns a scalar tensor.
    """
    total = 0.0
    for n in range(F.shape[0]):
        for c in range(F.shape[1]):
            f, b, z = F[n, c].tolist(), B[n, c].tolist(), Zf[n, 0].tolist()
            nf = sum(v * v for row in f for v in row) ** 0.5
            nb = sum(v * v for row in b for v in row) ** 0.5
            total += sum(fv / nf * (1 - zv) + bv / nb * zv
                         for fr, br, zr in zip(f, b, z) for fv, bv, zv in zip(fr, br, zr))
    return torch.tensor(total / F.numel(), dtype=F.dtype)
