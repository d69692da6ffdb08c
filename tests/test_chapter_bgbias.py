"""The background-bias chapter's own logic (reidlib.chapters.bgbias) on small hand-made scores: no training."""

import math

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from reidlib.ablation import Withdrawn
from reidlib.bias import VARIANTS
from reidlib.chapters import bgbias
from reidlib.claims import NOT_TESTABLE, WITHDRAWN

matplotlib.use("Agg")

SEEDS = [0, 1, 2]


def scores(rank1: dict[tuple[str, str], float], queries: int = 10000) -> list[dict]:
    """Fig. 3 scores, every seed alike: ``{(train, test): rank-1}`` -> ``[{"train", "test", "seed", ...}]``."""
    return [{"train": tr, "test": te, "seed": s, "rank1": v + 0.001 * s, "mAP": v / 2, "num_valid_queries": queries}
            for (tr, te), v in rank1.items() for s in SEEDS]


def full_study(original_rank1: float = 0.8) -> dict:
    """A study with every train x test cell: the original model loses on mean backgrounds; others vary."""
    rank1 = {(tr, te): 0.3 for tr in VARIANTS for te in VARIANTS}
    rank1.update({("original", "original"): original_rank1, ("original", "mean_background"): original_rank1 - 0.2,
                  ("original", "random_background"): original_rank1 - 0.3,
                  ("random_background", "original"): 0.5, ("random_background", "mean_background"): 0.45,
                  ("random_background", "random_background"): 0.48})
    return {"scores": scores(rank1), "withdrawn": {}}


def test_profile_defaults_fill_only_what_is_none():
    assert bgbias.profile_defaults("ci", None, None, None, None) == ([0.0, 0.5], [], None, 2)
    assert bgbias.profile_defaults("cpu", None, None, None, None) == ([0.0, 0.25, 0.5, 0.75, 1.0], [0.0, 1.0], "B", 12)
    assert bgbias.profile_defaults("ci", [0.3], [1.0], "A", 7) == ([0.3], [1.0], "A", 7)


def test_slim_drops_per_query_scores_only():
    assert bgbias.slim([{"seed": 0, "rank1": 0.5, "per_query": [1, 0]}]) == [{"seed": 0, "rank1": 0.5}]


def test_tested_maps_labels_back_to_variants_and_collects_what_is_withdrawn(monkeypatch):
    gone = Withdrawn("x, tested on random-background", "leak")

    def fake_scores_on(runs, tests, what, device):
        assert set(tests) == {"original", "random-background"}  # scores_on sees the labels
        return {"original": [{"seed": 0, "rank1": 0.5}]}, {"random-background": gone}

    monkeypatch.setattr(bgbias, "scores_on", fake_scores_on)
    withdrawn = []
    ok, out = bgbias.tested([{"seed": 0}], {"original": {}, "random_background": {}}, "x", "cpu", withdrawn)
    assert ok == {"original": [{"seed": 0, "rank1": 0.5}]}
    assert out == {"random_background": gone} and withdrawn == [gone]


def test_condition_runs_pools_cells_and_computes_the_spread_per_seed():
    runs, gone = bgbias.condition_runs(full_study())
    assert [r["seed"] for r in runs["original -> original"]] == SEEDS
    # the original model's spread over original / mean / random backgrounds: 0.8 - 0.5
    assert [r["rank1"] for r in runs["original: spread"]] == pytest.approx([0.3] * 3)
    assert [r["rank1"] for r in runs["random_background: spread"]] == pytest.approx([0.05] * 3)
    assert all(r["num_valid_queries"] == 10000 for r in runs["original: spread"])
    assert gone == {}


def test_condition_runs_withdraws_a_spread_when_one_of_its_cells_is():
    study = full_study()
    study["scores"] = [s for s in study["scores"] if (s["train"], s["test"]) != ("original", "random_background")]
    study["withdrawn"] = {"original -> random_background": Withdrawn("cell", "leaky test set")}
    runs, gone = bgbias.condition_runs(study)
    assert "original: spread" not in runs
    assert gone["original: spread"].endswith("test sets: leaky test set")
    assert gone["original -> random_background"] == "leaky test set"
    assert "random_background: spread" in runs


def test_findings_orders_the_claims_as_the_text_and_judges_them():
    table = bgbias.findings(full_study(), chance=0.01, seeds=SEEDS)
    assert list(table.index) == ["original model loses on mean-background", "original model loses on random-background",
                                 "original model beats chance on background-only",
                                 "background-only model beats chance", "random-background model is the most consistent",
                                 (f"random-background training costs a little (at most {bgbias.COST_BOUND:g} "
                                  "points) on originals")]
    assert table.loc["original model loses on mean-background", "ours"] == pytest.approx(-20)
    assert table.loc["background-only model beats chance", "ours"] == pytest.approx(29.1)
    assert table.loc["random-background model is the most consistent", "ours"] == pytest.approx(-25)
    assert (table["verdict"] != WITHDRAWN).all()


def test_findings_call_consistency_not_testable_where_the_original_model_did_not_learn():
    table = bgbias.findings(full_study(original_rank1=0.05), chance=0.01, seeds=SEEDS)
    row = table.loc["random-background model is the most consistent"]
    assert row["verdict"] == NOT_TESTABLE and "did not learn" in row["note"]


def test_fig3_glue_reads_the_first_dataset_of_what_is_shown():
    rows = bgbias.as_records(bgbias.findings(full_study(), chance=0.01, seeds=SEEDS))
    shown = {"findings": {"synth-tiny": rows, "other": rows}, "chance_rank1": {"synth-tiny": 0.0123, "other": 0.5}}
    values = bgbias.fig3_glue(shown)
    assert values["bg_chance_first"] == pytest.approx(1.23)
    assert values["bg_change_mean"] == pytest.approx(-20)
    assert values["bg_cost_bound"] == bgbias.COST_BOUND
    assert values["paper_fig3_mean_loss"] == -values["paper_fig3_mean"]
    assert values["fig3_counts"].startswith("synth-tiny: ") and "; other: " in values["fig3_counts"]


def test_heatmaps_mark_the_cells_that_are_withdrawn():
    study = full_study()
    kept = [s for s in study["scores"] if (s["train"], s["test"]) != ("original", "random_background")]
    fig = bgbias.heatmaps(kept, "x")
    marks = [t for ax in fig.axes for t in ax.texts if t.get_text() == "withdrawn"]
    assert len(marks) == 2  # one per metric
    empty = bgbias.heatmaps([], "empty")
    assert empty.axes[0].texts[-1].get_text() == "withdrawn"
    plt.close(fig)
    plt.close(empty)


def test_table2_claims_and_table_pair_our_rows_with_the_papers():
    claims = bgbias.table2_claims()
    assert [c.with_ for c in claims] == [f"ours (p=0.5) on {t}" for t in bgbias.TESTS3]
    assert all(c.paper_delta is not None for c in claims)
    table2 = {"DGD baseline on original": {"rank1 mean": 0.5, "rank1 std": 0.01, "mAP mean": 0.3, "mAP std": 0.0}}
    table = bgbias.table2_table(table2)
    assert len(table) == 6 and table.loc["DGD baseline on original", "ours rank-1 (%)"] == "50.0 ± 1.0"
    assert table.loc["ours (p=0.5) on mean_background", "ours rank-1 (%)"] == "withdrawn"
    assert table["paper rank-1, Market-1501 (%)"].notna().all()


def test_p_variants_train_no_augmentation_at_zero():
    assert bgbias.p_variants([0.0, 0.5]) == {"p=0": [], "p=0.5": ["data.random_background_p=0.5",
                                                                  f"data.background_pool={bgbias.POOL}"]}


def test_p_results_average_the_seeds_and_judge_table_4_only_with_both_ends():
    def per_seed(v):
        return [{"seed": s, "rank1": v + 0.01 * s, "mAP": v / 2, "num_valid_queries": 10000} for s in SEEDS]

    p_scores = {"p=0": {"original": per_seed(0.5)}, "p=0.5": {"original": per_seed(0.6), "mean_background": per_seed(0.4)}}
    out = bgbias.p_results(p_scores, [0.0, 0.5], SEEDS, chance=0.01)
    assert out["p_study"]["p=0.5"]["original"] == {"rank1": pytest.approx(0.61), "mAP": pytest.approx(0.3)}
    assert len(out["p_claims"]) == 1 and out["p_claims"][0]["ours"] == pytest.approx(10)
    assert "p_claims" not in bgbias.p_results(p_scores, [0.0, 0.25], SEEDS, chance=0.01)
    ptab = bgbias.p_table(out["p_study"])
    assert ptab.loc["p=0.5", "original"] == pytest.approx(61)
    assert math.isnan(ptab.loc["p=0", "mean-background"])


def test_table3_claims_are_all_withdrawn_with_their_reason():
    rows = bgbias.table3_claims(SEEDS)
    assert len(rows) == 3
    assert {r["verdict"] for r in rows} == {WITHDRAWN} and {r["note"] for r in rows} == {bgbias.T3_REASON}
    assert all(r["paper"] > 0 for r in rows)


def test_points_and_dial_table():
    assert bgbias.points(0.5, 0.25) == pytest.approx(25) and bgbias.points(np.nan) == "withdrawn"
    study = full_study()
    entry = bgbias.dial_entry(study["scores"], {"original": [{"seed": 0, "rank1": 0.6, "per_query": [1]}],
                                                "random_background": [{"seed": 0, "rank1": 0.5}]})
    assert entry["augmented"] == [{"test": "original", "seed": 0, "rank1": 0.6},
                                  {"test": "random_background", "seed": 0, "rank1": 0.5}]
    assert bgbias.dial_entry([{"seed": 0, "per_query": {}}], {})["scores"] == [{"seed": 0}]
    no_aug = bgbias.dial_entry(study["scores"], {})
    table = bgbias.dial_table({"1.0": no_aug, "0.0": entry})
    assert list(table.index) == [0.0, 1.0]  # by bg_share, not by key order
    assert table.loc[0.0, "original model: drop on random backgrounds"] == pytest.approx(30)
    assert table.loc[0.0, "augmented model (p=0.5): drop"] == pytest.approx(10)
    assert table.loc[1.0, "augmented model (p=0.5): drop"] == "withdrawn"
    assert table.loc[0.0, "background-only model on background-only"] == pytest.approx(30.1)
    assert isinstance(table, pd.DataFrame)
