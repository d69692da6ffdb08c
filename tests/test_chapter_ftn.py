"""The FTN chapter's own logic (reidlib.chapters.ftn) on small hand-made inputs: no training."""

import math

import numpy as np
import pandas as pd
import pytest
import torch

from reidlib.ablation import Withdrawn
from reidlib.chapters import ftn
from reidlib.claims import WITHDRAWN
from reidlib.models.ftn import ABLATION_ROWS


def seed_runs(rank1s, mAP=0.3):
    return [{"seed": s, "rank1": v, "mAP": mAP, "mINP": 0.1, "num_valid_queries": 10000} for s, v in enumerate(rank1s)]


def test_every_row_of_both_tables_is_an_ablation_row_and_only_decoder_rows_keep_the_alternating_schedule():
    assert set(ftn.TABLE1 + ftn.TABLE2) == set(ABLATION_ROWS)
    assert "schedule.stages=[]" in ftn.row_overrides("Base. + CFA")
    assert "schedule.stages=[]" not in ftn.row_overrides("(g)")
    assert "model.options.attention=pamcam" in ftn.row_overrides("Base. + PAM-CAM")
    assert "model.options.gradient_loss=False" in ftn.row_overrides("(f)")


def test_rows_table_gives_mean_spread_and_seeds_of_rows_with_runs_only():
    table = ftn.rows_table({"Base.": seed_runs([0.4, 0.6]), "(g)": []}, ["Base.", "(g)", "(a)"])
    assert list(table) == ["Base."]
    assert table["Base."]["rank1 mean"] == pytest.approx(0.5)
    assert table["Base."]["rank1 std"] == pytest.approx(math.sqrt(0.02))
    assert table["Base."]["seeds"] == 2 and "mINP mean" in table["Base."]


def test_versus_paper_shows_the_papers_numbers_and_withdraws_rows_without_runs():
    stored = ftn.rows_table({"Base.": seed_runs([0.4, 0.6])}, ["Base."])
    table = ftn.versus_paper(stored, ["Base.", "Base. + CFA"], "1")
    assert table.loc["Base.", "ours rank-1"] == "50.0 ± 14.1"
    assert table.loc["Base. + CFA", "ours mAP"] == WITHDRAWN
    assert table.loc["Base. + CFA", "paper mAP"] == ftn.paper_value("1", "Base. + CFA", "mAP")
    # No row has runs: every row is withdrawn.
    assert (ftn.versus_paper({}, ["Base."], "1")["ours rank-1"] == WITHDRAWN).all()


def test_a_claim_carries_the_papers_difference_and_rank1_beside_an_mAP_claim_only():
    c = ftn.claim("CFA helps the baseline", "Base.", "Base. + CFA", "1")
    assert c.paper_delta == pytest.approx(ftn.paper_value("1", "Base. + CFA", "mAP")
                                          - ftn.paper_value("1", "Base.", "mAP"))
    assert c.paper_rank1 == pytest.approx(ftn.paper_value("1", "Base. + CFA", "rank1")
                                          - ftn.paper_value("1", "Base.", "rank1"))
    # Across tables: Table 2's (g) against Table 1's baseline.
    across = ftn.claim("FTN beats its baseline", "Base.", "(g)", "2", "1", metric="rank1")
    assert across.paper_delta == pytest.approx(ftn.paper_value("2", "(g)", "rank1")
                                               - ftn.paper_value("1", "Base.", "rank1"))
    assert across.paper_rank1 is None and across.metric == "rank1"


def test_claims_compare_rows_that_exist_and_the_table2_claims_name_the_confound():
    rows = set(ABLATION_ROWS)
    for c in ftn.table1_claims() + ftn.table2_claims() + ftn.decoder_claims():
        assert {c.without, c.with_} <= rows, c.label
    assert [c.metric for c in ftn.table1_claims() if c.label == "PA helps CFA"] == ["rank1"]
    assert sum(ftn.FEWER_ID_STEPS in c.source for c in ftn.table2_claims()) == 7  # every claim against Base.
    (joint,) = ftn.schedule_claims()
    assert joint.paper_delta is None and joint.direction == 1 and joint.without in ftn.JOINT_WITHDRAWN


def test_judged_withdraws_the_schedule_claim_and_keeps_the_claim_key():
    runs = {"(g)": seed_runs([0.5, 0.6, 0.7])}
    (row,) = ftn.judged(runs, ftn.schedule_claims(), [0, 1, 2], 0.01, withdrawn=ftn.JOINT_WITHDRAWN)
    assert row["claim"] == "alternating beats joint training"
    assert row["verdict"] == WITHDRAWN and row["note"] == ftn.JOINT_WITHDRAWN["(g) joint"]
    assert ftn.verdict_with_note(row) == f"{WITHDRAWN}: {row['note']}"


def test_headline_reads_the_ftn_claim_with_its_interval_or_why_it_has_none():
    judged = {"claim": "FTN beats its baseline", "ours": 2.04, "low": -0.5, "high": 4.5, "paper": 3.0, "seeds": 3,
              "verdict": "inconclusive", "note": ""}
    other = {**judged, "claim": "the gradient loss helps", "ours": 9.0}
    assert ftn.headline([other, judged]) == "+2.0 mAP points, interval [-0.5, +4.5] (paper +3.0): inconclusive"
    gone = {**judged, "seeds": 0, "verdict": WITHDRAWN, "note": "no runs of '(g)'"}
    assert ftn.headline([gone]) == f"{WITHDRAWN} (no runs of '(g)')"


def test_as_printed_compares_at_the_papers_printed_precision():
    assert ftn.as_printed(1.316, 1.3) and not ftn.as_printed(1.36, 1.3)
    assert ftn.as_printed(0.1678, 0.168) and not ftn.as_printed(0.1686, 0.168)
    assert ftn.as_printed(83.44, 83.4) and not ftn.as_printed(44.7, 83.4)
    assert ftn.as_printed(7.4, 7) and not ftn.as_printed(7.6, 7)


COSTS = {"CFA": {"parameters": 1_300_000, "flops": 500_000_000, "conv_macs": 168_000_000},
         "PAM-CAM (DANet)": {"parameters": 1_000_000, "flops": 1_000_000_000, "conv_macs": 400_000_000}}
PAPER = {"parameters (M)": 1.3, "GFLOPs": 0.168, "saving (%)": 50.0}


def test_cost_table_and_our_cost_in_millions_and_billions():
    table = ftn.cost_table(COSTS)
    assert table.loc["CFA", "parameters (M)"] == pytest.approx(1.3)
    assert table.loc["PAM-CAM (DANet)", "GFLOPs (all ops)"] == pytest.approx(1.0)
    assert table.loc["CFA", "convolution GMACs"] == pytest.approx(0.168)
    ours = ftn.our_cost(COSTS)
    assert ours["FLOPs saving (%)"] == pytest.approx(50.0)
    assert ours["parameter saving (%)"] == pytest.approx(-30.0)  # CFA has more parameters here


def test_cost_verdicts_need_both_savings_and_cost_glue_names_every_value():
    verdicts = ftn.cost_verdicts(PAPER, ftn.our_cost(COSTS))
    assert verdicts["parameters"] == "reproduced"
    assert verdicts["GFLOPs as convolution multiply-adds"] == "reproduced"
    assert verdicts["saving in FLOPs of all operations and in parameters"] == "not reproduced"
    glued = ftn.cost_glue(COSTS, verdicts)
    assert list(glued)[:3] == ["ftn_paper_gflops", "ftn_paper_params", "ftn_paper_saving"]
    assert glued["ftn_paper_saving"] == "50 %" and glued["ftn_paper_gflops"] == "0.168"
    assert glued["cfa_flops_saving"] == pytest.approx(0.5) and glued["pam_gflops"] == pytest.approx(1.0)
    assert glued["ftn_cost_saving_verdict"] == "not reproduced" and glued["ftn_cost_params_verdict"] == "reproduced"


def test_module_costs_count_both_modules_on_a_small_map():
    costs = ftn.module_costs(channels=32, height=4, width=2)
    assert set(costs) == {"CFA", "PAM-CAM (DANet)"}
    assert all(c["parameters"] > 0 and c["flops"] > 0 for c in costs.values())


def test_to_picture_undoes_the_imagenet_normalisation():
    pics = ftn.to_picture(torch.zeros(2, 3, 4, 3))
    assert pics.shape == (2, 4, 3, 3)
    assert np.allclose(pics[0, 0, 0], ftn.IMAGENET_MEAN)
    assert ftn.to_picture(torch.full((1, 3, 1, 1), 100.0)).max() == 1.0  # clamped


def test_picture_grid_draws_one_labelled_row_per_entry():
    rows = {"image": np.zeros((3, 4, 2, 3)), "CFA mask": np.zeros((3, 4, 2))}
    fig = ftn.picture_grid(rows, columns=3)
    assert len(fig.axes) == 6
    assert fig.axes[3].get_ylabel() == "CFA mask"
    import matplotlib.pyplot as plt
    plt.close(fig)


def test_background_test_sets_need_person_masks():
    assert ftn.has_person_masks("synth-tiny", None) and ftn.has_person_masks("market1501", "/masks")
    assert not ftn.has_person_masks("market1501", None)
    assert ftn.background_test_sets(False, None) == {"original": {}}
    tests = ftn.background_test_sets(True, None)
    assert list(tests) == ["original", "mean background", "random background"]
    assert all(t["data.mask_root"] == "/masks" for t in ftn.background_test_sets(True, "/masks").values())


def test_background_scores_average_seeds_and_withdraw_what_cannot_be_computed(monkeypatch):
    rank1 = {("Base. + CFA", 0): 0.4, ("Base. + CFA", 1): 0.6}
    monkeypatch.setattr(ftn, "evaluate_run", lambda r, test, device: {"rank1": rank1[r["row"], r["seed"]]})
    monkeypatch.setattr(ftn, "evaluate_or_withdraw", lambda r, test, what, reason, device: Withdrawn(what, reason))
    monkeypatch.setattr(ftn, "attention_run_scores", lambda r, key, root, device: {"iou": 0.1 + r["seed"] / 10})
    runs = {"Base. + CFA": [{"row": "Base. + CFA", "seed": s} for s in (0, 1)]}
    tests = {"original": {}, "random background": {}}
    beyond, withdrawn = ftn.background_scores(runs, tests, True, None, names=("Base. + CFA", "(g)"))
    assert beyond["Base. + CFA"]["original rank-1"] == pytest.approx(0.5)
    assert beyond["Base. + CFA"]["iou"] == pytest.approx(0.15)
    assert beyond["Base. + CFA"]["random background rank-1"] == WITHDRAWN
    assert beyond["(g)"] == {"original rank-1": WITHDRAWN, "random background rank-1": WITHDRAWN}
    assert [w["result"] for w in withdrawn] == ["random background rank-1 of Base. + CFA",
                                                "background tests of (g)"]
    # Without masks no attention scores are asked for.
    beyond, _ = ftn.background_scores(runs, {"original": {}}, False, None, names=("Base. + CFA",))
    assert "iou" not in beyond["Base. + CFA"]


def test_mask_glue_reads_iou_and_contrast_or_nan():
    table = pd.DataFrame({"(g)": {"iou": 0.3, "contrast": 2.0}, "Base. + CFA": {"iou": WITHDRAWN}}).T
    glued = ftn.mask_glue(table)
    assert list(glued) == ["ftn_iou", "ftn_contrast", "ftn_cfa_iou", "ftn_cfa_contrast"]
    assert glued["ftn_iou"] == 0.3 and glued["ftn_contrast"] == 2.0
    assert math.isnan(glued["ftn_cfa_iou"]) and math.isnan(glued["ftn_cfa_contrast"])
    assert all(math.isnan(v) for v in ftn.mask_glue(pd.DataFrame({"Base.": {"original rank-1": 0.5}}).T).values())


def test_withdrawn_sentence_lists_each_reason_once():
    assert ftn.withdrawn_sentence([]) == "No score of this table is withdrawn."
    records = [{"result": "a", "reason": "b went"}, {"result": "c", "reason": "a went"}, {"result": "d", "reason": "b went"}]
    assert ftn.withdrawn_sentence(records) == f"The scores marked {WITHDRAWN} are so because a went; b went."
