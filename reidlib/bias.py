"""The background-influence study (the background-bias paper's Fig. 3) as one function.

A model is trained on each *training variant* of a dataset (original images,
background only, mean background, random background), and each trained model
is tested on each *test variant*: a 4 x 4 matrix per metric. The variants
are the transforms of :mod:`reidlib.data.transforms`, built from the person
masks, so the same study runs on SynthReID (ground-truth masks) and on real
data with the study's segmenter's masks.
"""

from __future__ import annotations

import math

import pandas as pd

from .ablation import LEAKY_RANDOM_BACKGROUND, Withdrawn, evaluate_or_withdraw, run_variants

# What each score keeps: the metrics, and the query count for the verdict rule's test-set error.
SCORES = ("rank1", "rank5", "mAP", "mINP", "num_valid_queries")
VARIANTS = ("original", "background_only", "mean_background", "random_background")
LABELS = {"original": "original", "background_only": "background-only", "mean_background": "mean-background",
          "random_background": "random-background"}


def variant_settings(variant: str, pool: str, train: bool) -> dict:
    """Config keys that train (``train=True``) or test on ``variant``."""
    key = "data.background" if train else "data.test_background"
    out = {key: variant}
    if variant == "random_background":
        out["data.background_pool"] = pool
    return out


def influence_study(method: str, profile: str, dataset: str, seeds: list[int], common: list[str] = (),
                    pool: str = "synth-scenes:C", device: str = "auto") -> dict:
    """Train ``method`` on every training variant and test on every test variant.

    Returns ``{"runs": {train variant: [results]}, "scores": [{"train", "test", "seed", "rank1", "mAP", ...}]}``.
    A score that can be neither read from a run record nor computed here
    (:func:`reidlib.ablation.evaluate_or_withdraw`) has NaN metrics and the
    reason in ``withdrawn``.
    ``pool`` is the random backgrounds' source (``synth-scenes:<family>`` or a folder).
    """
    variants = {v: [f"{k}={val}" for k, val in variant_settings(v, pool, train=True).items()] for v in VARIANTS}
    runs = run_variants(method, profile, variants, seeds, dataset, list(common))
    scores = []
    for trained_on, results in runs.items():
        for r in results:
            for tested_on in VARIANTS:
                # the training variant's own transform must not apply at test time: test_background says which
                test = variant_settings(tested_on, pool, train=False)
                if tested_on == "random_background" or trained_on == "random_background":
                    test["data.background_pool"] = pool
                reason = LEAKY_RANDOM_BACKGROUND if tested_on == "random_background" else None
                metrics = evaluate_or_withdraw(r, test, f"trained on {trained_on}, seed {r['seed']}, tested on "
                                                        f"{tested_on}", reason, device=device)
                row = {"train": trained_on, "test": tested_on, "seed": r["seed"]}
                if isinstance(metrics, Withdrawn):  # NaN scores, and why (the matrix shows the cell as withdrawn)
                    scores.append({**row, **{k: math.nan for k in SCORES}, "withdrawn": metrics.reason})
                else:
                    scores.append({**row, **{k: metrics[k] for k in SCORES}, "withdrawn": None})
    return {"runs": runs, "scores": scores}


def influence_matrix(scores: list[dict], metric: str = "rank1", stat: str = "mean") -> pd.DataFrame:
    """The 4 x 4 train x test matrix of ``metric`` (mean or std over seeds), rows and columns in paper order."""
    df = pd.DataFrame(scores)
    table = df.groupby(["train", "test"])[metric].agg(stat).unstack("test")
    table = table.reindex(index=list(VARIANTS), columns=list(VARIANTS))
    return table.rename(index=LABELS, columns=LABELS)


def background_tests(pool: str = "synth-scenes:C", mask_root: str | None = None) -> dict[str, dict]:
    """``load_run`` settings of the chapters' background test: the original, mean- and random-background test sets.

    ``pool`` gives the random backgrounds; ``mask_root`` the masks of a real
    dataset (SynthReID has its own).
    """
    tests = {"original": {}, "mean background": variant_settings("mean_background", pool, train=False),
             "random background": variant_settings("random_background", pool, train=False)}
    return {k: {**v, "data.mask_root": mask_root} for k, v in tests.items()} if mask_root else tests
