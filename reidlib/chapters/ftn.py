"""The FTN chapter: the rows of the paper's Tables 1 and 2, its claims, the cost claim and the CFA mask scores.

FTN (paper ``001``, :mod:`reidlib.models.ftn`) is a global + local baseline
with CFA (a compact foreground attention) and TF-Dec (a texture-focused
decoder, dropped at test time). Every row of the paper's Tables 1 and 2 is a
setting of :data:`reidlib.models.ftn.ABLATION_ROWS`; this module turns those
rows into runs' overrides, the paper's claims into :class:`~reidlib.ablation.Claim`
s, and the chapter's tables, glued values and pictures.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from ..ablation import LEAKY_RANDOM_BACKGROUND, Claim, Withdrawn, evaluate_or_withdraw, judge, mean_std, metric_table
from ..bias import background_tests
from ..claims import WITHDRAWN
from ..engine.records import attention_run_scores, evaluate_run, load_for_pictures
from ..models.cost import module_cost
from ..models.ftn import ABLATION_ROWS, PAMCAM, CompactForegroundAttention
from ..papers import value

# The paper's Table 1 (attention modules, no decoder) and Table 2 (reconstruction targets), in its order.
TABLE1 = ["Base.", "Base. + PAM-CAM", "Base. + CFA w/o PA", "Base. + CFA w/o CA", "Base. + CFA w/o CMP", "Base. + CFA"]
TABLE2 = ["(a)", "(b)", "(c)", "(d)", "(e)", "(f)", "(g)"]

# The rows tested on the background variants of the test set, and whose CFA masks are scored.
BACKGROUND_ROWS = ("Base.", "Base. + CFA", "(g)")

FEWER_ID_STEPS = ("confound: the row with TF-Dec spends one batch in three on reconstruction, so it takes a third "
                  "fewer identity steps than the row without TF-Dec in the same epochs")

# ImageNet statistics the images are normalised with, to undo for drawing.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def row_overrides(name: str) -> list[str]:
    """The ``--set`` overrides that train row ``name`` of :data:`~reidlib.models.ftn.ABLATION_ROWS`."""
    opts = [f"model.options.{k}={v}" for k, v in ABLATION_ROWS[name].items()]
    # Rows without TF-Dec have no reconstruction batches to alternate with.
    return opts if ABLATION_ROWS[name]["decoder"] else [*opts, "schedule.stages=[]"]


def paper_value(table: str, row: str, metric: str) -> float:
    """A number of the paper's on Market-1501, in percent: ``table`` ("1" / "2"), ``row`` and ``metric``."""
    return value("ftn", table, row, metric, dataset="market1501")


def rows_table(runs: dict[str, list[dict]], names: list[str]) -> dict[str, dict]:
    """Mean and spread over seeds of each row of ``names`` that has runs, and how many seeds it has.

    ``runs`` maps a row to its results per seed; returns ``row -> {"rank1 mean", "rank1 std", ..., "seeds"}``.
    """
    return {n: {**metric_table({n: runs[n]}, ("rank1", "mAP", "mINP")).loc[n].to_dict(), "seeds": len(runs[n])}
            for n in names if runs.get(n)}


def versus_paper(stored: dict[str, dict], names: list[str], table: str) -> pd.DataFrame:
    """The paper's rank-1 and mAP beside ours (``"64.2 ± 4.1"``) for the rows ``names`` of ``table``.

    ``stored`` is a :func:`rows_table` as a results file holds it; a row without runs is withdrawn.
    """
    t = pd.DataFrame(stored).T
    ours = {m: pd.Series(mean_std(t, m) if len(t) else [], index=t.index, dtype=object).reindex(names).fillna(WITHDRAWN)
            for m in ("rank1", "mAP")}
    return pd.DataFrame({"paper rank-1": [paper_value(table, n, "rank1") for n in names], "ours rank-1": ours["rank1"],
                         "paper mAP": [paper_value(table, n, "mAP") for n in names], "ours mAP": ours["mAP"]},
                        index=names)


def claim(label: str, without: str, with_: str, table: str, without_table: str | None = None, metric: str = "mAP",
          source: str = "") -> Claim:
    """Table ``table``'s row ``with_`` against ``without`` (of ``without_table``): mAP, with rank-1 beside."""
    def delta(m):
        return paper_value(table, with_, m) - paper_value(without_table or table, without, m)
    return Claim(label, without, with_, metric, delta(metric), paper_rank1=delta("rank1") if metric == "mAP" else None,
                 source=source)


def table1_claims() -> list[Claim]:
    """Table 1's claims: CFA against the baseline and PAM-CAM, and each of CFA's parts."""
    return [
        claim("CFA helps the baseline", "Base.", "Base. + CFA", "1"),
        claim("CFA beats PAM-CAM", "Base. + PAM-CAM", "Base. + CFA", "1"),
        claim("PA helps CFA", "Base. + CFA w/o PA", "Base. + CFA", "1", metric="rank1",
              source="001 line 148: 'The results related to PA, CA and CMP prove their effectiveness'; Table 1's "
                     "mAP is 0.1 lower with PA than without it, so this claim is judged on rank-1, where the table "
                     "shows it"),
        claim("CA helps CFA", "Base. + CFA w/o CA", "Base. + CFA", "1"),
        claim("CMP helps CFA", "Base. + CFA w/o CMP", "Base. + CFA", "1"),
        claim("CA matters more than PA", "Base. + CFA w/o CA", "Base. + CFA w/o PA", "1",
              source="001 line 148: 'CA has the greatest effect on the performance improvement of CFA'"),
    ]


def table2_claims() -> list[Claim]:
    """Table 2's claims: FTN and each reconstruction target against the baseline, and the targets among them."""
    return [
        claim("FTN beats its baseline", "Base.", "(g)", "2", "1",
              source="001 line 167 gives 1.4 (rank-1) / 3.0 (mAP) points on Market-1501; the differences here are "
                     f"those of Tables 1-2's rows; {FEWER_ID_STEPS}"),
        claim("TF-Dec alone helps the baseline", "Base.", "(a)", "2", "1",
              source=f"001 line 167: 'using only TF-Dec can improve the baseline'; {FEWER_ID_STEPS}"),
        *[claim(f"target ({t}) helps the baseline", "Base.", f"({t})", "2", "1",
                source=f"001 line 167: 'No matter which reconstruction strategy is used, it can bring obvious "
                       f"improvement'; {FEWER_ID_STEPS}") for t in "bcdef"],
        claim("the attention target beats the Gaussian alone", "(c)", "(g)", "2"),
        claim("the channel mask beats the position mask", "(d)", "(e)", "2",
              source="001 line 167: 'although PAm is effective, CAm is more effective'"),
        claim("the gradient loss helps", "(f)", "(g)", "2"),
        claim("CFA helps the decoder model", "(a)", "(g)", "2"),
    ]


def decoder_claims() -> list[Claim]:
    """TF-Dec on top of CFA: Table 1's CFA row against FTN (Table 2 (g))."""
    return [claim("TF-Dec helps CFA", "Base. + CFA", "(g)", "2", "1", source=FEWER_ID_STEPS)]


# Why the ``(g) joint`` row of the schedule claim has no runs.
JOINT_WITHDRAWN = {"(g) joint": "no runs of FTN trained jointly (Re-ID and reconstruction losses on every batch) yet"}


def schedule_claims() -> list[Claim]:
    """The claim that alternating the tasks trains FTN better than training them jointly.

    001 line 134: alternating the tasks trained FTN better than optimising both on every batch. No run trains
    FTN jointly yet, so the claim is withdrawn with that reason: judge it with ``withdrawn=JOINT_WITHDRAWN``.
    """
    return [Claim("alternating beats joint training", "(g) joint", "(g)", "mAP", None, direction=1,
                  source="001 line 134: 'using the second training strategy can make FTN get better optimization "
                         "effect'")]


def judged(runs: dict[str, list[dict]], claims: list[Claim], seeds: list[int], chance: float,
           withdrawn: dict[str, str] | None = None) -> list[dict]:
    """:func:`~reidlib.ablation.judge`'s rows as a results file stores them: a list of dicts with a ``claim`` key."""
    return judge(runs, claims, seeds=seeds, chance=chance, withdrawn=withdrawn).reset_index().to_dict(orient="records")


def headline(records: list[dict]) -> str:
    """The chapter's headline, FTN against its baseline, as a sentence from Table 2's judged claims ``records``."""
    head = next(r for r in records if r["claim"] == "FTN beats its baseline")
    if not head["seeds"]:
        return f"{head['verdict']} ({head['note']})"
    return (f"{head['ours']:+.1f} mAP points, interval [{head['low']:+.1f}, {head['high']:+.1f}] "
            f"(paper {head['paper']:+.1f}): {head['verdict']}")


def verdict_with_note(record: dict) -> str:
    """``"<verdict>: <note>"`` of one judged claim (the schedule claim, withdrawn with its reason)."""
    return f"{record['verdict']}: {record['note']}"


def module_costs(channels: int = 1024, height: int = 16, width: int = 8) -> dict[str, dict]:
    """Parameters and FLOPs (:func:`~reidlib.models.cost.module_cost`) of CFA and of DANet's PAM-CAM.

    The default map is that of ResNet-50's stage 4 for a 256x128 image (1024 channels, 16 x 8 with the last
    stride 1), where the paper counts them. Returns ``{"CFA": cost, "PAM-CAM (DANet)": cost}``.
    """
    x = torch.randn(1, channels, height, width)
    return {name: module_cost(module, x) for name, module in
            (("CFA", CompactForegroundAttention(channels)), ("PAM-CAM (DANet)", PAMCAM(channels)))}


def cost_table(costs: dict[str, dict]) -> pd.DataFrame:
    """One row per module of ``costs`` (:func:`module_costs`): parameters (M), GFLOPs and convolution GMACs."""
    return pd.DataFrame({n: {"parameters (M)": c["parameters"] / 1e6, "GFLOPs (all ops)": c["flops"] / 1e9,
                             "convolution GMACs": c["conv_macs"] / 1e9} for n, c in costs.items()}).T


def paper_cost() -> dict[str, float]:
    """The paper's cost of CFA (001 line 163): parameters (M), GFLOPs, and its saving (%) against PAM-CAM."""
    return {"parameters (M)": value("ftn", "cost", "CFA", "parameters (M)", "any"),
            "GFLOPs": value("ftn", "cost", "CFA", "GFLOPs", "any"),
            "saving (%)": value("ftn", "cost", "CFA vs PAM-CAM", "saving (%)", "any")}


def our_cost(costs: dict[str, dict]) -> dict[str, float]:
    """CFA's parameters (M) and convolution GMACs, and its savings (%) in FLOPs and parameters against PAM-CAM."""
    cfa, pam = costs["CFA"], costs["PAM-CAM (DANet)"]
    return {"parameters (M)": cfa["parameters"] / 1e6, "convolution GMACs": cfa["conv_macs"] / 1e9,
            "FLOPs saving (%)": 100 * (1 - cfa["flops"] / pam["flops"]),
            "parameter saving (%)": 100 * (1 - cfa["parameters"] / pam["parameters"])}


def as_printed(ours: float, paper: float) -> bool:
    """Whether ``ours`` equals the paper's number at the precision the paper prints it with."""
    return abs(ours - paper) <= 0.5 * 10 ** -len(f"{paper:g}".partition(".")[2])


def reproduced_word(ok: bool) -> str:
    """The verdict word of a count compared at the paper's precision."""
    return "reproduced" if ok else "not reproduced"


def cost_verdicts(paper: dict[str, float], ours: dict[str, float]) -> dict:
    """The cost claim's verdicts: :func:`paper_cost` against :func:`our_cost`.

    Counts of fixed modules, compared at the paper's printed precision (no seeds, no interval).
    """
    return {
        "paper": paper, "ours": ours, "against": "bare DANet PAM + CAM modules on the same map",
        "parameters": reproduced_word(as_printed(ours["parameters (M)"], paper["parameters (M)"])),
        "GFLOPs as convolution multiply-adds": reproduced_word(as_printed(ours["convolution GMACs"],
                                                                          paper["GFLOPs"])),
        "saving in FLOPs of all operations and in parameters": reproduced_word(
            as_printed(ours["FLOPs saving (%)"], paper["saving (%)"])
            and as_printed(ours["parameter saving (%)"], paper["saving (%)"]))}


def cost_glue(costs: dict[str, dict], verdicts: dict) -> dict:
    """The values the cost section glues into its prose, by glue name, in the order the chapter glues them.

    ``costs`` from :func:`module_costs`, ``verdicts`` from :func:`cost_verdicts`.
    """
    paper, ours = verdicts["paper"], verdicts["ours"]
    cfa, pam = costs["CFA"], costs["PAM-CAM (DANet)"]
    glued = {"ftn_paper_gflops": f"{paper['GFLOPs']:g}", "ftn_paper_params": f"{paper['parameters (M)']:g}",
             "ftn_paper_saving": f"{paper['saving (%)']:g} %",
             "cfa_params": ours["parameters (M)"], "cfa_conv_gmacs": ours["convolution GMACs"],
             "cfa_gflops": cfa["flops"] / 1e9, "pam_params": pam["parameters"] / 1e6,
             "pam_gflops": pam["flops"] / 1e9, "cfa_flops_saving": ours["FLOPs saving (%)"] / 100,
             "cfa_params_saving": ours["parameter saving (%)"] / 100}
    for key, verdict in (("params", "parameters"), ("gflops", "GFLOPs as convolution multiply-adds"),
                         ("saving", "saving in FLOPs of all operations and in parameters")):
        glued[f"ftn_cost_{key}_verdict"] = verdicts[verdict]
    return glued


def to_picture(images: torch.Tensor) -> np.ndarray:
    """Normalised ``(N, 3, H, W)`` images -> displayable ``(N, H, W, 3)`` pictures in [0, 1]."""
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (images.cpu() * std + mean).clamp(0, 1).permute(0, 2, 3, 1).numpy()


def inspection_rows(maps: dict[str, torch.Tensor], images: torch.Tensor) -> dict[str, np.ndarray]:
    """The rows of the chapter's figure (Figs. 4-5), from ``images`` and what FTN's ``inspect`` returns for them.

    The input, its target (weighted by the Gaussian and CFA's masks), the reconstruction, CFA's position
    mask, and the channel-mean activations of stage 3, the CFA branch, the global and the local branch.
    """
    return {"image": to_picture(images), "target": to_picture(maps["target"]),
            "reconstruction": to_picture(maps["reconstruction"]), "CFA mask": maps["cfa"].cpu().numpy(),
            "stage 3": maps["stage3"].cpu().numpy(), "CFA branch": maps["cfa_features"].cpu().numpy(),
            "global": maps["global"].cpu().numpy(), "local": maps["local"].cpu().numpy()}


def picture_grid(rows: dict[str, np.ndarray], columns: int = 5):
    """A figure of one labelled row per entry of ``rows``, ``columns`` pictures each (maps in viridis)."""
    fig, axes = plt.subplots(len(rows), columns, figsize=(6.5, 1.6 * len(rows)))
    for i, (label, pics) in enumerate(rows.items()):
        for j in range(columns):
            axes[i, j].imshow(pics[j], cmap=None if pics[j].ndim == 3 else "viridis")
            axes[i, j].set_xticks([])
            axes[i, j].set_yticks([])
        axes[i, 0].set_ylabel(label, fontsize=8)
    fig.tight_layout()
    return fig


def inspection_figure(run: dict, device: str = "auto", count: int = 5):
    """The figure of :func:`inspection_rows` for the first ``count`` query images of the trained FTN ``run``."""
    trainer = load_for_pictures(run, device=device)
    batch = next(iter(trainer.data.query))
    images = batch["image"][:count].to(trainer.device)
    return picture_grid(inspection_rows(trainer.model.inspect(images), images), count)


def has_person_masks(dataset: str, mask_root: str | None) -> bool:
    """Whether the test images have person masks: SynthReID has its own, a real dataset needs ``mask_root``."""
    return dataset.startswith("synth-") or mask_root is not None


def background_test_sets(has_masks: bool, mask_root: str | None) -> dict[str, dict]:
    """``load_run`` settings of the test sets: the original, and the mean- and random-background variants.

    Without person masks the variants cannot be drawn, and only the original is left.
    """
    if not has_masks:
        return {"original": {}}
    return background_tests(mask_root=mask_root) if mask_root else background_tests()


def background_scores(runs: dict[str, list[dict]], test_sets: dict[str, dict], has_masks: bool,
                      mask_root: str | None, names: tuple[str, ...] = BACKGROUND_ROWS,
                      device: str = "auto") -> tuple[dict[str, dict], list[dict]]:
    """Each row's rank-1 on each test set and, for rows with CFA, its mask scores: means over seeds.

    ``test_sets`` from :func:`background_test_sets`. Returns ``(beyond, withdrawn)``: ``beyond[row]`` maps
    ``"<test> rank-1"`` (and ``iou``, ``contrast``, ...) to a mean or to *withdrawn*; ``withdrawn`` lists
    what is withdrawn and why (:meth:`~reidlib.ablation.Withdrawn.record`).
    """
    beyond, withdrawn = {}, []
    for n in names:
        per_seed, gone = [], {}
        for r in runs.get(n, []):
            scores = {}
            for label, test in test_sets.items():
                # Random-background scores of the committed records were computed on a leaking test set.
                got = (evaluate_or_withdraw(r, test, f"{label} rank-1 of {n}", LEAKY_RANDOM_BACKGROUND, device=device)
                       if label == "random background" else evaluate_run(r, test, device=device))
                if isinstance(got, Withdrawn):
                    gone.setdefault(f"{label} rank-1", got)
                else:
                    scores[f"{label} rank-1"] = got["rank1"]
            if has_masks and ABLATION_ROWS[n]["attention"] == "cfa":
                scores.update(attention_run_scores(r, "cfa", mask_root, device=device))
            per_seed.append(scores)
        if not per_seed:
            gone = {f"{label} rank-1": Withdrawn(f"background tests of {n}", f"no runs of {n!r}") for label in test_sets}
        beyond[n] = {**pd.DataFrame(per_seed).drop(columns=list(gone), errors="ignore").mean(numeric_only=True).to_dict(),
                     **{key: WITHDRAWN for key in gone}}
        withdrawn += [w.record() for w in {w.what: w for w in gone.values()}.values()]
    return beyond, withdrawn


def mask_glue(beyond: pd.DataFrame) -> dict[str, float]:
    """FTN's and the CFA row's mask IoU and contrast, by glue name (NaN where a row or score is missing).

    ``beyond`` is :func:`background_scores`'s table, one row per chapter row.
    """
    glued = {}
    for name, key in (("(g)", "ftn"), ("Base. + CFA", "ftn_cfa")):
        for col in ("iou", "contrast"):
            got = beyond[col].get(name, np.nan) if col in beyond else np.nan
            glued[f"{key}_{col}"] = float(got) if isinstance(got, (int, float)) else np.nan
    return glued


def withdrawn_sentence(withdrawn: list[dict]) -> str:
    """Why the scores marked *withdrawn* are so, from :func:`background_scores`'s ``withdrawn`` records."""
    reasons = sorted({w["reason"] for w in withdrawn})
    return (f"The scores marked {WITHDRAWN} are so because {'; '.join(reasons)}." if reasons
            else "No score of this table is withdrawn.")

