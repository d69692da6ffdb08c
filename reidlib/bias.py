"""The background-influence study (the background-bias paper's Fig. 3) as one function.

A model is trained on each *training variant* of a dataset (original images,
background only, mean background, random background), and each trained model
is tested on each *test variant*: a 4 x 4 matrix per metric. The variants
are the transforms of :mod:`reidlib.data.transforms`, built from the person
masks, so the same study runs on SynthReID (ground-truth masks) and on real
data with the study's segmenter's masks.
"""

from __future__ import annotations

import pandas as pd

from .ablation import run_variants, scores_on

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
                    pool: str = "synth-scenes:C", device: str = "auto", name: str | None = None) -> dict:
    """Train ``method`` on every training variant and test on every test variant.

    Returns ``{"runs": {train variant: [results]}, "scores": [{"train", "test", "seed", "rank1", "mAP", ...}],
    "withdrawn": {"<train> -> <test>": Withdrawn}}``. ``pool`` is the random
    backgrounds' source (``synth-scenes:<family>`` or a folder). A train x test
    cell whose scores can be neither read from the run records nor computed
    here is withdrawn (:func:`reidlib.ablation.scores_on`), with its reason;
    ``name`` (default ``dataset``) says which study in the reason.
    """
    variants = {v: [f"{k}={val}" for k, val in variant_settings(v, pool, train=True).items()] for v in VARIANTS}
    runs = run_variants(method, profile, variants, seeds, dataset, list(common))
    scores, withdrawn = [], {}
    for trained_on, results in runs.items():
        # the training variant's own transform must not apply at test time: test_background says which
        keep_pool = {"data.background_pool": pool} if trained_on == "random_background" else {}
        tests = {LABELS[t]: {**variant_settings(t, pool, train=False), **keep_pool} for t in VARIANTS}
        ok, gone = scores_on(results, tests, f"{name or dataset}: {method} trained on {LABELS[trained_on]}", device)
        by_label = {LABELS[t]: t for t in VARIANTS}
        scores += [{"train": trained_on, "test": by_label[t], **s} for t, rows in ok.items() for s in rows]
        withdrawn.update({f"{trained_on} -> {by_label[t]}": w for t, w in gone.items()})
    return {"runs": runs, "scores": scores, "withdrawn": withdrawn}


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
