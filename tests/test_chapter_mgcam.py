"""The MGCAM chapter's logic on hand-made scores: oracle names, the claims of Tables 2 and 3, beyond, video, masks."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from reidlib.ablation import Withdrawn
from reidlib.chapters import mgcam as ch
from reidlib.claims import BINOMIAL, NOT_TESTABLE, WITHDRAWN

SEEDS = [0, 1, 2]


def scores(rank1, mAP, n=200):
    """Three seeds' scores around ``rank1`` and ``mAP``."""
    return [{"seed": s, "rank1": rank1 + 0.01 * s, "mAP": mAP + 0.01 * s, "num_valid_queries": n} for s in SEEDS]


def test_a_row_is_an_oracle_only_on_synthetic_data_and_only_where_it_reads_masks():
    assert not ch.reads_masks("MSCAN-body RGB") and not ch.reads_masks("MGCAM RGB")
    assert all(ch.reads_masks(n) for n in ("MSCAN-body Mask", "MSCAN-body Masked RGB", "MGCAM (hard) RGB-M"))
    assert ch.oracle("MSCAN-body RGB", "MGCAM RGB-M", synthetic=True)
    assert not ch.oracle("MSCAN-body RGB", "MGCAM RGB", synthetic=True)
    assert not ch.oracle("MGCAM RGB-M", synthetic=False)
    assert ch.shown_as("MGCAM RGB-M", True) == "MGCAM RGB-M (oracle masks at test)"
    assert ch.shown_as("MGCAM RGB-M", False) == "MGCAM RGB-M"
    assert ch.row_of("MGCAM RGB-M (oracle masks at test)") == "MGCAM RGB-M"


def test_in_order_puts_shown_names_back_in_the_rows_order():
    names = ["MGCAM RGB", "MSCAN-body RGB-M (oracle masks at test)", "MSCAN-body RGB"]
    assert ch.in_order(names) == ["MSCAN-body RGB", "MSCAN-body RGB-M (oracle masks at test)", "MGCAM RGB"]
    assert ch.in_order(["b", "a"], rows={"a": 0, "b": 0}) == ["a", "b"]


def test_ours_withdraws_a_row_without_runs():
    table = pd.DataFrame({"mAP mean": [0.5, math.nan], "mAP std": [0.02, math.nan]}, index=["x", "y"])
    assert ch.ours(table, "mAP") == ["50.0 ± 2.0", WITHDRAWN]


def distance_record(seed, euclidean, kissme, xqda, rerank):
    """One seed's scores under the four distances (rank1 = mAP + 0.1)."""
    values = {"euclidean": euclidean, "kissme": kissme, "xqda": xqda, "xqda+rerank": rerank}
    return {"seed": seed, "num_valid_queries": 100,
            **{k: {"rank1": v + 0.1, "mAP": v, "rank5": 0.9} for k, v in values.items()}}


def fake_distances():
    return {n: [distance_record(s, 0.30 + 0.01 * s, 0.25, 0.35 + 0.02 * s, 0.40) for s in SEEDS]
            for n in ch.TABLE3_MODELS}


def test_under_keeps_one_distance_and_per_distance_adds_the_best_other_per_seed_and_metric():
    distances = fake_distances()
    xqda = ch.under(distances, "xqda", ["MGCAM RGB-M"])
    assert list(xqda) == ["MGCAM RGB-M"]
    assert xqda["MGCAM RGB-M"][2] == {"seed": 2, "num_valid_queries": 100, "rank1": pytest.approx(0.49),
                                      "mAP": pytest.approx(0.39)}
    per_kind = ch.per_distance(distances)
    assert len(per_kind) == 3 * 4 + 1
    assert per_kind["MSCAN-body RGB-M KISSME"][0]["mAP"] == 0.25
    assert [s["mAP"] for s in per_kind[ch.BEST_OTHER]] == pytest.approx([0.35, 0.37, 0.39])  # XQDA beats the rest


def test_table3_metrics_claims_and_view():
    per_kind = ch.per_distance(fake_distances())
    metrics = ch.table3_metrics(per_kind, synthetic=True)
    assert len(metrics) == 12 and "MGCAM RGB-M (oracle masks at test) Re-ranking" in metrics
    assert metrics["MGCAM RGB-M (oracle masks at test) Re-ranking"]["mAP mean"] == pytest.approx(0.40)
    claims = ch.table3_claims(synthetic=True)
    assert [c.without for c in claims][-1] == ch.BEST_OTHER
    assert all("(oracle masks at test)" in c.label for c in claims)
    assert not any("oracle" in c.label for c in ch.table3_claims(synthetic=False))
    assert len(ch.by_distance_claims(synthetic=False)) == 8
    view = ch.table3_view({"table3": metrics})
    assert view.shape == (3, 8)
    assert list(view.index) == [ch.shown_as(n, True) for n in ch.TABLE3_MODELS]
    assert view.loc["MGCAM RGB-M (oracle masks at test)", ("ours mAP (%)", "Re-ranking")] == "40.0 ± 0.0"
    assert view.loc["MGCAM RGB-M (oracle masks at test)", ("paper mAP (%)", "Re-ranking")] == pytest.approx(
        ch.paper_value("3", "MGCAM RGB-M Re-ranking", "mAP"))


def test_table2_counts_a_question_on_the_segmenter_masks_and_keeps_its_oracle_twin_apart():
    xqda = {n: scores(0.5 + 0.02 * i, 0.3 + 0.02 * i) for i, n in enumerate(ch.TABLE2_ROWS)}
    segmenter = {n: scores(0.4 + 0.02 * i, 0.2 + 0.02 * i) for i, n in enumerate(ch.SEGMENTER_ROWS)}
    counted, twins = ch.table2_claims(xqda, segmenter, True, SEEDS, chance=0.01)
    asked_again = ch.on_segmenter(True)
    assert len(asked_again) == 5  # every question with an oracle row, except hard attention (no segmenter scores)
    assert len(counted) == len(ch.TABLE2_QUESTIONS) and len(twins) == len(asked_again)
    assert sum("segmenter masks at test" in r["claim"] for r in counted) == len(asked_again)
    assert all("oracle masks at test, XQDA" in r["claim"] for r in twins)
    by_label = {r["claim"]: r for r in counted}
    table3_question = by_label["MGCAM beats MSCAN-body on RGB-M (segmenter masks at test, Euclidean)"]
    assert table3_question["note"].startswith("paper: Table 3, Euclidean")
    assert table3_question["paper"] == pytest.approx(ch.paper_value("3", "MGCAM RGB-M Euclidean", "mAP")
                                                     - ch.paper_value("3", "MSCAN-body RGB-M Euclidean", "mAP"))
    assert "MGCAM beats MSCAN-body on RGB (XQDA)" in by_label  # reads no mask: no oracle mark
    real_counted, real_twins = ch.table2_claims(xqda, {}, False, SEEDS, chance=0.01)
    assert len(real_counted) == len(ch.TABLE2_QUESTIONS) and real_twins == []
    assert not any("oracle" in r["claim"] for r in real_counted)


def test_table2_view_sets_the_paper_beside_ours_and_withdraws_a_row_without_runs():
    table2 = ch.shown_metrics({"MSCAN-body RGB-M": scores(0.5, 0.3), "MSCAN-body RGB": scores(0.4, 0.2)}, True)
    table2["MGCAM RGB"] = {"rank1 mean": math.nan, "rank1 std": math.nan, "mAP mean": math.nan, "mAP std": math.nan}
    segmenter = ch.shown_metrics({"MSCAN-body RGB-M": scores(0.45, 0.25)}, True)
    view = ch.table2_view({"table2": table2, "table2_segmenter": segmenter})
    assert list(view.index) == ["MSCAN-body RGB", "MSCAN-body RGB-M (oracle masks at test)", "MGCAM RGB"]
    assert view.loc["MSCAN-body RGB", "paper mAP"] == ch.paper_value("2", "MSCAN-body RGB (XQDA)", "mAP")
    assert view.loc["MGCAM RGB", "ours rank-1"] == WITHDRAWN
    assert view.loc["MSCAN-body RGB-M (oracle masks at test)", "ours mAP, segmenter masks (Euclidean)"] == "26.0 ± 1.0"
    assert view.loc["MSCAN-body RGB", "ours mAP, segmenter masks (Euclidean)"] == ""


def test_segmenter_scores_retest_only_the_rows_that_read_masks(monkeypatch):
    monkeypatch.setattr(ch, "evaluate_run", lambda run, test, device: {"rank1": 0.1, "mAP": 0.05})
    runs = {n: scores(0.5, 0.3) for n in ch.SEGMENTER_ROWS}
    got = ch.segmenter_scores(runs, {"data.test_mask_root": "x"}, rows=["MSCAN-body RGB", "MSCAN-body Mask"])
    assert got["MSCAN-body RGB"][1]["rank1"] == pytest.approx(0.51)  # its own run's score
    assert got["MSCAN-body Mask"][1] == {"seed": 1, "rank1": 0.1, "mAP": 0.05}  # retested


def test_beyond_withdraws_a_variant_any_seed_lacks_and_adds_the_body_map_of_attention_models(monkeypatch):
    def evaluate(run, test, what, reason, device):
        if test == "random" and run["seed"] == 2:
            return Withdrawn(what, reason)
        return {"rank1": 0.5 + 0.1 * run["seed"]}

    monkeypatch.setattr(ch, "evaluate_or_withdraw", evaluate)
    monkeypatch.setattr(ch, "attention_run_scores", lambda run, key, device: {"iou": 0.6 + 0.1 * run["seed"]})
    runs = {n: scores(0.5, 0.3) for n in ch.BEYOND_ROWS}
    beyond, gone = ch.beyond_scores(runs, {"original": "orig", "random background": "random"}, True)
    assert len(gone) == 3 and all(g["reason"].startswith("the random-background test set") for g in gone)
    assert beyond["MSCAN-body RGB"] == {"original rank-1": pytest.approx(0.6), "random background rank-1": WITHDRAWN}
    assert beyond["MGCAM RGB-M (oracle masks at test)"]["iou"] == pytest.approx(0.7)
    table = ch.beyond_table(beyond)
    assert list(table.index) == ["MSCAN-body RGB", "MSCAN-body RGB-M (oracle masks at test)",
                                 "MGCAM RGB-M (oracle masks at test)"]
    assert list(table.columns)[-1] == "iou"
    assert ch.body_map_iou(table) == pytest.approx(0.7)
    assert math.isnan(ch.body_map_iou(table.drop(columns="iou")))
    assert ch.withdrawn_sentence(gone).startswith(f"3 scores {WITHDRAWN}, because the random-background")
    assert ch.withdrawn_sentence([]) == "every score shown"


def test_tracklet_scores_keep_the_tracklet_tests_that_were_scored():
    video = pd.DataFrame([
        {"entry": "A", "seed": 0, "test": "frames", "rank1": 0.5, "mAP": 0.3, "num_valid_queries": 10, "withdrawn": None},
        {"entry": "A", "seed": 0, "test": "tracklets", "rank1": 0.6, "mAP": 0.4, "num_valid_queries": 5,
         "withdrawn": None},
        {"entry": "A", "seed": 1, "test": "tracklets", "rank1": np.nan, "mAP": np.nan, "num_valid_queries": np.nan,
         "withdrawn": "gone"}])
    assert ch.tracklet_scores(video) == {"A": [{"seed": 0, "rank1": 0.6, "mAP": 0.4, "num_valid_queries": 5}]}
    table = ch.video_table(video.to_dict(orient="records"))
    assert table.loc["A", ("rank1", "mean", "tracklets")] == pytest.approx(60.0)
    claim = ch.video_claim(synthetic=True)
    assert claim.label == "MGCAM beats MSCAN-body on tracklets (RGB-M, oracle masks at test, Euclidean)"
    assert claim.with_ == "MGCAM RGB-M (oracle masks at test)"
    assert ch.video_claim(synthetic=False).label == "MGCAM beats MSCAN-body on tracklets (RGB-M, Euclidean)"


def test_mask_ious_and_test_settings_name_every_kind_of_mask():
    truth = [np.pad(np.ones((8, 4), int), ((4, 4), (2, 2))) for _ in range(2)]
    iou = ch.mask_ious(truth, 0.8, ["shift:0.25"])
    assert iou[ch.TRUTH] == 1.0 and iou["segmenter"] == 0.8
    assert 0 < iou["shift:0.25"] < 1
    settings = ch.mask_test_settings({"data.test_mask_root": "seg"}, ["shift:0.25"])
    assert list(settings) == [ch.TRUTH, "segmenter", "shift:0.25"]
    assert settings["shift:0.25"] == {"data.test_mask_degradation": "shift:0.25"}
    assert ch.trained_on_overrides("dilate:2")[-1] == "data.mask_degradation=dilate:2"


def test_mask_quality_has_a_row_per_model_seed_and_kind_of_mask(monkeypatch):
    monkeypatch.setattr(ch, "evaluate_run", lambda run, test, device: {
        "rank1": 0.5 if test == {} else 0.4, "mAP": 0.3, "num_valid_queries": 100, "rank5": 0.9})
    quality = ch.mask_quality({"M": scores(0.5, 0.3)[:2]}, {ch.TRUTH: {}, "bad": {"x": 1}}, {ch.TRUTH: 1.0, "bad": 0.5})
    assert len(quality) == 4
    assert list(quality.columns) == ["model", "seed", "masks", "mask IoU", "rank1", "mAP", "num_valid_queries"]
    assert quality.set_index(["seed", "masks"]).loc[(1, "bad"), "rank1"] == 0.4


def quality_rows(model, truth_rank1, truth_mAP, drops, n=100):
    """Rows of a mask-quality table: per seed, the model's true-mask scores and, on segmenter masks, less by drops."""
    rows = []
    for seed, drop in zip(SEEDS, drops):
        rows.append({"model": model, "seed": seed, "masks": ch.TRUTH, "rank1": truth_rank1, "mAP": truth_mAP,
                     "num_valid_queries": n})
        rows.append({"model": model, "seed": seed, "masks": "segmenter", "rank1": truth_rank1 - drop,
                     "mAP": truth_mAP - drop, "num_valid_queries": n})
    return rows


def test_mask_changes_are_differences_to_the_true_masks_with_both_binomial_errors():
    quality = pd.DataFrame(quality_rows("MSCAN-body RGB-M", 0.5, 0.4, [0.1, 0.1, 0.1]))
    changes = ch.mask_changes(quality)
    assert list(changes) == ["MSCAN-body RGB-M | segmenter"]
    first = changes["MSCAN-body RGB-M | segmenter"][0]
    assert first["mAP"] == pytest.approx(-0.1)
    assert first["test_var"]["rank1"] == pytest.approx(1e4 * (0.4 * 0.6 + 0.5 * 0.5) / 100)
    assert ch.binomial_variance(1.5, 10) == 0.0  # a score outside [0, 1] is clipped


def test_rgbm_keeping_more_than_the_masked_image_is_judged_with_four_binomial_scores():
    quality = pd.DataFrame(quality_rows("MSCAN-body Masked RGB", 0.6, 0.5, [0.20, 0.22, 0.24], n=2000)
                           + quality_rows("MSCAN-body RGB-M", 0.6, 0.5, [0.01, 0.02, 0.03], n=2000))
    judged = ch.judge_mask_claims(quality, ["segmenter"], SEEDS, chance=0.01)
    row = judged.loc["RGB-M keeps more than the masked image with segmenter masks"]
    assert row["verdict"] == "reproduced"
    assert row["ours"] == pytest.approx(20.0)
    assert row["test error"] == f"{BINOMIAL}, four scores"
    floor = ch.judge_mask_claims(quality, ["segmenter"], SEEDS, chance=0.1)  # 60 % rank-1 is under 10 x chance
    assert floor.iloc[0]["verdict"] == NOT_TESTABLE
    assert floor.iloc[0]["note"].startswith("'MSCAN-body Masked RGB' did not learn: rank-1 60.0 %")
    missing = ch.judge_mask_claims(quality[quality["model"] != "MSCAN-body RGB-M"], ["segmenter"], SEEDS, 0.01)
    assert missing.iloc[0]["verdict"] == WITHDRAWN
