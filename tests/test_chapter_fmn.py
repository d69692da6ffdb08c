"""The FMN chapter's own logic (reidlib.chapters.fmn) on small hand-made runs: no training, no weights."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from reidlib.ablation import LEAKY_RANDOM_BACKGROUND, Withdrawn
from reidlib.chapters import fmn
from reidlib.claims import NOT_TESTABLE, WITHDRAWN
from reidlib.engine.records import MissingRunError

SEEDS = [0, 1, 2]
CHANCE = 0.01


def run(seed, rank1, mAP, queries=10000, **extra):
    return {"seed": seed, "rank1": rank1, "mAP": mAP, "mINP": mAP / 2, "num_valid_queries": queries, **extra}


def runs(rank1s, mAPs, **extra):
    return [run(s, r, m, **extra) for s, r, m in zip(SEEDS, rank1s, mAPs)]


@pytest.fixture
def evaluations(monkeypatch):
    """evaluate_or_withdraw replaced: a test given a key of ``gone`` is withdrawn, else scores +0.1 rank-1."""
    calls = []

    def evaluate(r, test, what, reason, device="auto"):
        calls.append((r["seed"], dict(test), what, reason, device))
        if test.get("gone"):
            return Withdrawn(what, reason)
        return {"rank1": r["rank1"] + 0.1, "mAP": r["mAP"], "num_valid_queries": 100}

    monkeypatch.setattr(fmn, "evaluate_or_withdraw", evaluate)
    return calls


def test_common_overrides_name_device_progress_and_data_root():
    assert fmn.common_overrides("ci", "cpu") == ["device=cpu", "progress=False"]
    assert fmn.common_overrides("cpu", "auto", "/data") == ["device=auto", "progress=True", "data.data_root=/data"]


def test_short_grn_note_reads_the_grn_stage_and_the_ide_schedule():
    fmn_config = SimpleNamespace(schedule=SimpleNamespace(stages=[SimpleNamespace(name="lan", epochs=9),
                                                                  SimpleNamespace(name="grn", epochs=4)]))
    ide_config = SimpleNamespace(schedule=SimpleNamespace(epochs=12))
    note = fmn.short_grn_note(fmn_config, ide_config)
    assert note.startswith("the GRN (the IDE baseline) trains 4 epochs here where the IDE chapter's baseline trains 12")


def test_variants_are_the_masked_layers_then_the_margins():
    named = fmn.variants([0.0, 0.2])
    assert list(named) == ["Pool1", "Res2", "Res3", "Res4", "margin 0", "margin 0.2"]
    assert named["Res3"] == ["model.options.masked_layer=res3"]
    assert named["margin 0.2"] == ["model.options.margin=0.2"]


def test_why_gives_the_reason_of_a_withdrawn_or_short_variant():
    assert fmn.why(Withdrawn("x", "no weights"), SEEDS) == "no weights"
    assert fmn.why(runs([0.5, 0.5], [0.3, 0.3]), SEEDS) == fmn.NO_RECORD
    assert fmn.why(runs([0.5] * 3, [0.3] * 3), SEEDS) is None


def test_tested_adds_seeds_or_withdraws_once(evaluations):
    withdrawn = []
    scores = fmn.tested(runs([0.5] * 3, [0.3] * 3), {"model.options.alpha": 0.25}, "alpha", "why", "cpu", withdrawn)
    assert [s["seed"] for s in scores] == SEEDS and scores[0]["rank1"] == pytest.approx(0.6)
    assert withdrawn == [] and evaluations[0][1:] == ({"model.options.alpha": 0.25}, "alpha", "why", "cpu")
    gone = fmn.tested(runs([0.5] * 3, [0.3] * 3), {"gone": True}, "GRN", "not kept", "cpu", withdrawn)
    assert gone == Withdrawn("GRN", "not kept")
    assert withdrawn == [{"result": "GRN", "reason": "not kept"}]  # one record for the variant, not one per seed


def test_summary_tabulates_full_variants_and_withdraws_the_others():
    table = fmn.summary({"full": runs([0.4, 0.5, 0.6], [0.2, 0.3, 0.4]), "short": runs([0.5], [0.3]),
                         "gone": Withdrawn("gone", "no record")}, SEEDS)
    assert table["full"]["rank1 mean"] == pytest.approx(0.5) and table["full"]["rank1 std"] == pytest.approx(0.1)
    assert table["short"] == {WITHDRAWN: fmn.NO_RECORD} and table["gone"] == {WITHDRAWN: "no record"}
    assert fmn.ours(table, "mAP") == ["30.0 ± 10.0", WITHDRAWN, WITHDRAWN]


def test_judged_withdraws_short_variants_and_states_a_shared_reason_once():
    named = {"A": runs([0.4, 0.41, 0.42], [0.2, 0.21, 0.22]), "B": runs([0.6, 0.61, 0.62], [0.4, 0.41, 0.42]),
             "C": runs([0.5], [0.3]), "D": runs([0.5], [0.3])}
    claims = [fmn.Claim("B beats A", "A", "B", "mAP", 20.0), fmn.Claim("D beats C", "C", "D", "mAP", 5.0)]
    rows = {r["claim"]: r for r in fmn.judged(named, claims, SEEDS, CHANCE)}
    assert rows["B beats A"]["verdict"] == "reproduced" and rows["B beats A"]["ours"] == pytest.approx(20.0)
    assert rows["D beats C"]["verdict"] == WITHDRAWN and rows["D beats C"]["note"] == fmn.NO_RECORD
    gone = fmn.judged({"A": named["A"]}, [claims[0]], SEEDS, CHANCE, withdrawn={"B": "not trained"})
    assert gone[0]["verdict"] == WITHDRAWN and gone[0]["note"] == "not trained"


def test_in_order_puts_the_named_keys_first():
    assert list(fmn.in_order({"b": 1, "c": 2, "a": 3}, ["a", "b", "x"])) == ["a", "b", "c"]


def test_paper_values_and_differences_are_the_papers():
    assert fmn.paper_value("1", "FMN", "mAP") == pytest.approx(67.12)
    assert fmn.delta("1", "FMN", "GRN", "mAP") == pytest.approx(67.12 - 58.50)
    table = fmn.paper_beside_ours("1", {"FMN": {"rank1 mean": 0.4, "rank1 std": 0.1, "mAP mean": 0.3, "mAP std": 0.0},
                                        "GRN": {WITHDRAWN: "gone"}})
    assert list(table.index) == ["FMN", "GRN"]
    assert list(table.columns) == ["paper rank-1", "ours rank-1", "paper mAP", "ours mAP"]
    assert table.loc["FMN", "ours mAP"] == "30.0 ± 0.0" and table.loc["GRN", "ours rank-1"] == WITHDRAWN
    assert table.loc["GRN", "paper mAP"] == pytest.approx(58.50)


def test_table_claims_compare_the_papers_rows_on_map():
    t1 = fmn.table1_claims("short schedule")
    assert [(c.without, c.with_) for c in t1] == [("GRN", "FMN"), ("LAN", "FMN"), ("GRN", "LAN")]
    assert [c.source for c in t1] == ["short schedule", "", "short schedule"]  # only claims against the GRN
    assert t1[0].paper_delta == pytest.approx(67.12 - 58.50) and all(c.metric == "mAP" for c in t1)
    t5 = fmn.table5_claims()
    assert [c.label for c in t5] == ["masking Pool1 beats Res4", "masking Pool1 beats Res3", "masking Res2 beats Res4"]


def test_reranked_runs_ask_each_descriptor_with_reranking(evaluations):
    reranked = fmn.reranked_runs(runs([0.5] * 3, [0.3] * 3), "cpu", [])
    assert list(reranked) == ["GRN", "FMN"]
    assert {(str(test), what) for _, test, what, *_ in evaluations} == {
        (str({"model.options.descriptor": "grn", "eval.rerank": True}), "GRN re-ranked (the Pool1 runs)"),
        (str({"eval.rerank": True}), "FMN re-ranked (the Pool1 runs)")}


def test_reranking_gains_and_summary():
    reranked = {"GRN": runs([0.5] * 3, [0.3] * 3, rerank_rank1=0.55, rerank_mAP=0.4),
                "FMN": Withdrawn("FMN re-ranked", "not kept")}
    gains = fmn.reranking_gains(reranked)
    assert gains["FMN re-ranking gain"] == reranked["FMN"]
    first = gains["GRN re-ranking gain"][0]
    assert first["rank1"] == pytest.approx(0.05) and first["mAP"] == pytest.approx(0.1)
    assert first["seed"] == 0 and first["num_valid_queries"] == 10000
    rerank = fmn.rerank_summary(reranked, SEEDS)
    assert rerank["GRN"] == pytest.approx({"rank1": 0.5, "mAP": 0.3, "rerank_rank1": 0.55, "rerank_mAP": 0.4})
    assert rerank["FMN"] == {WITHDRAWN: "not kept"}
    table = fmn.rerank_table(rerank)
    assert table.loc["GRN", "rerank_mAP"] == "40.0" and table.loc["FMN", "rank1"] == WITHDRAWN


def test_the_rerank_floor_is_on_the_grns_own_rank1():
    judged = [{"verdict": "reproduced", "size": None, "note": ""}, {"verdict": WITHDRAWN, "size": None, "note": "x"}]
    low = runs([0.05] * 3, [0.03] * 3)  # under 10 x chance (0.1)
    rows = fmn.floor_on_grn([dict(r) for r in judged], low, CHANCE)
    assert rows[0]["verdict"] == NOT_TESTABLE and "the GRN did not learn" in rows[0]["note"]
    assert rows[1] == judged[1]  # a withdrawn claim stays withdrawn
    assert fmn.floor_on_grn([dict(r) for r in judged], [], CHANCE) == judged  # no GRN scores: no floor
    assert fmn.floor_on_grn([dict(r) for r in judged], runs([0.5] * 3, [0.3] * 3), CHANCE) == judged


def test_judged_rerank_floors_a_gain_claim_on_the_plain_grn():
    def scores(rank1, gain):  # re-ranking adds 20 points of rank-1 (over judge()'s own floor) and ``gain`` of mAP
        return runs([rank1] * 3, [0.3] * 3, rerank_rank1=rank1 + 0.2, rerank_mAP=0.3 + gain)

    learned = fmn.judged_rerank({"GRN": scores(0.5, 0.01), "FMN": scores(0.5, 0.05)}, SEEDS, CHANCE, "short")
    assert learned[0]["claim"] == "re-ranking adds more to FMN than to GRN"
    assert learned[0]["verdict"] == "reproduced" and learned[0]["ours"] == pytest.approx(4.0)
    unlearned = fmn.judged_rerank({"GRN": scores(0.05, 0.01), "FMN": scores(0.5, 0.05)}, SEEDS, CHANCE, "short")
    assert unlearned[0]["verdict"] == NOT_TESTABLE and unlearned[0]["note"].startswith("the GRN did not learn")


def test_sweep_runs_name_margins_and_alphas(evaluations):
    trained = {"Pool1": runs([0.5] * 3, [0.3] * 3), "margin 0": runs([0.4], [0.2])}
    withdrawn = []
    sweep = fmn.sweep_runs(trained, 0.05, [0.0], [0.25], "cpu", withdrawn)
    assert list(sweep) == ["margin 0.05 (default)", "margin 0", "alpha 0.25"]
    assert sweep["margin 0"] is trained["margin 0"] and evaluations[0][1] == {"model.options.alpha": 0.25}
    assert fmn.summary(sweep, SEEDS)["margin 0"] == {WITHDRAWN: fmn.NO_RECORD}


def test_background_rank1_means_each_test_and_says_why_one_is_gone(evaluations):
    tests = {"original": {}, "random background": {"gone": True}}
    withdrawn = []
    beyond = fmn.background_rank1(runs([0.4, 0.5, 0.6], [0.3] * 3), tests, SEEDS, "cpu", withdrawn)
    assert beyond["GRN"]["original rank-1"] == pytest.approx(0.6)
    assert beyond["FMN"]["random background rank-1"] == WITHDRAWN
    assert [w["result"] for w in withdrawn] == ["GRN random background rank-1", "FMN random background rank-1"]
    assert withdrawn[1]["reason"] == LEAKY_RANDOM_BACKGROUND  # FMN's random-background runs had the leak
    assert withdrawn[0]["reason"] == fmn.NOT_RECORDED.format("GRN's descriptor on the random background test set")


def test_mask_scores_withdraw_each_run_without_weights(monkeypatch):
    def scores(run, key, device="auto"):
        if run["seed"] == 1:
            raise MissingRunError("gone")
        return {"inside": 0.5, "outside": 0.3, "iou": 0.2, "contrast": 0.2, "images": 10.0}

    monkeypatch.setattr(fmn, "attention_run_scores", scores)
    withdrawn = []
    got = fmn.mask_scores(runs([0.5] * 3, [0.3] * 3), "cpu", withdrawn)
    assert isinstance(got[1], Withdrawn) and withdrawn == [got[1].record()]
    assert not fmn.complete(got) and fmn.mean_mask_scores(got) == {}
    assert fmn.mask_sides(runs([0.5] * 3, [0.3] * 3), got) == {side: [] for side in fmn.MASK_SIDES}


def mask(inside, outside, images=5000.0):
    return {"inside": inside, "outside": outside, "iou": 0.1, "contrast": inside - outside, "images": images}


def test_mask_sides_and_the_mask_claim():
    pool1 = runs([0.5, 0.6, 0.7], [0.3] * 3)
    scores = [mask(0.6, 0.2), mask(0.5, 0.1), mask(0.7, 0.3)]
    assert fmn.mean_mask_scores(scores)["inside"] == pytest.approx(0.6)
    sides = fmn.mask_sides(pool1, scores)
    assert list(sides) == ["FMN (mask around the person)", "FMN (mask on the person)"]
    assert sides["FMN (mask on the person)"][2] == {"seed": 2, "mask": 0.7, "rank1": 0.7, "num_valid_queries": 5000.0}
    [row] = fmn.judged_mask(sides, SEEDS, CHANCE)
    assert row["verdict"] == "reproduced" and row["ours"] == pytest.approx(40.0)
    assert math.isnan(row["rank-1 ours"])  # both sides are one model
    assert fmn.judged_mask({side: [] for side in fmn.MASK_SIDES}, SEEDS, CHANCE)[0]["verdict"] == WITHDRAWN


def test_number_and_background_table():
    assert fmn.number(0.25) == 0.25 and math.isnan(fmn.number(None)) and math.isnan(fmn.number(WITHDRAWN))
    beyond = {"FMN": {"original rank-1": 0.393, "iou": 0.0061, "inside": 0.044, "outside": 0.0395,
                      "contrast": 0.0047},
              "GRN": {"original rank-1": WITHDRAWN}}
    table = fmn.background_table(beyond, ["original"])
    assert list(table.index) == ["GRN", "FMN"]
    assert list(table.columns) == ["original rank-1", "iou", "inside", "outside", "contrast"]
    assert table.loc["FMN", "original rank-1"] == "39.3" and table.loc["FMN", "iou"] == "0.006"
    assert table.loc["GRN", "original rank-1"] == WITHDRAWN and table.loc["GRN", "iou"] == ""


def ranked_tables(grn, fmn_):
    return {"grn": pd.DataFrame({"rank1_correct": grn}), "fmn": pd.DataFrame({"rank1_correct": fmn_})}


def test_fig4_counts_and_hard_queries():
    ranked = ranked_tables([False, True, False, False, True], [True, False, False, True, True])
    assert fmn.fig4_counts(ranked, 5, 0) == {"queries": 5, "grn_wrong_fmn_right": 2, "grn_right_fmn_wrong": 1,
                                             "seed": 0}
    assert fmn.hard_queries(ranked).tolist() == [0, 3, 2]  # fixed ones first, then GRN's other mistakes
    assert fmn.hard_queries(ranked, count=1).tolist() == [0]
    assert fmn.hard_queries(ranked_tables([True, True], [False, True])).tolist() == []
    assert isinstance(fmn.hard_queries(ranked), np.ndarray)


def test_the_skipped_claims_are_withdrawn_with_their_reasons():
    ranking, locality = fmn.judged_skipped(runs([0.5] * 3, [0.3] * 3), SEEDS, CHANCE)
    assert ranking[0]["claim"] == "the ranking loss raises mAP" and ranking[0]["verdict"] == WITHDRAWN
    assert ranking[0]["note"] == fmn.NO_RANKING_LOSS_RUN
    assert locality[0]["verdict"] == WITHDRAWN and locality[0]["note"] == fmn.NO_LOCALITY_MEASURE  # said once
