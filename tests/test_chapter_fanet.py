"""The FA-Net chapter's own logic (reidlib.chapters.fanet) on small hand-made runs: nothing is trained."""

from __future__ import annotations

import math

import pandas as pd
import pytest
import torch

from reidlib.ablation import Claim, Withdrawn
from reidlib.chapters import fanet as chapter
from reidlib.papers import value


def result(seed, rank1, mAP, **extra):
    return {"seed": seed, "rank1": rank1, "mAP": mAP, "num_valid_queries": 200, **extra}


def test_variants_are_the_ablation_rows_the_k_values_and_the_control():
    variants = chapter.variants([1, 8])
    assert {"B/L", "FA-Net", "B/L+TEM+BG+IA+TALv1", "FA-Net k=1", "FA-Net k=8", "B/L+HPP"} <= set(variants)
    assert "model.options.k=8" in variants["FA-Net k=8"] and "model.options.k=8" not in variants["FA-Net"]
    assert "model.options.hpp=True" in variants["B/L+HPP"] and "model.options.hpp=False" in variants["B/L"]
    assert variants["B/L+HPP"].count("model.options.tem=False") == 1  # the head without any attention module


def test_the_control_is_missing_until_every_seed_has_a_run():
    runs = {"B/L+HPP": [result(0, 0.5, 0.3), result(1, 0.5, 0.3)]}
    assert chapter.missing_controls(runs, [0, 1, 2]) == {"B/L+HPP": chapter.CONTROLS["B/L+HPP"]}
    assert chapter.missing_controls(runs, [0, 1]) == {}


def test_paper_values_map_our_baseline_to_the_papers_row():
    assert chapter.paper_value("I", "B/L", "mAP") == value("fanet", "I", "Baseline", "mAP", "market1501")
    step = chapter.paper_step("B/L", "FA-Net", "mAP")
    assert step == round(value("fanet", "I", "FA-Net", "mAP", "market1501")
                         - value("fanet", "I", "Baseline", "mAP", "market1501"), 1)


def test_step_claims_follow_table_one_row_by_row():
    claims = chapter.step_claims()
    assert [c.label for c in claims] == ["+TEM raises mAP", "+BG raises mAP", "+IA raises mAP", "+TAL raises mAP",
                                         "+HPP raises mAP"]
    assert [(c.without, c.with_) for c in claims] == list(zip(chapter.TABLE1, chapter.TABLE1[1:]))
    assert claims[0].paper_delta == chapter.paper_step("B/L", "B/L+TEM", "mAP")
    assert all(c.metric == "mAP" and c.paper_rank1 is not None for c in claims)
    unseen = chapter.unseen_claims("A->B", "market1501->dukemtmc")
    assert unseen[0].label == "FA-Net beats B/L on unseen scenes, A->B"
    assert unseen[1].label == "+TEM raises mAP on unseen scenes, A->B" and len(unseen) == 6


def test_table2_claims_judge_tal_against_each_other_form():
    claims = chapter.table2_claims()
    assert [c.without for c in claims] == ["B/L+TEM+BG+IA+TALv1", "B/L+TEM+BG+IA+TALv2"]
    assert {c.with_ for c in claims} == {"B/L+TEM+BG+IA+TAL"}


def test_judged_records_withdraw_a_variant_without_every_seed():
    runs = {"a": [result(s, 0.30, 0.20) for s in range(3)], "b": [result(s, 0.40, 0.30) for s in range(3)],
            "c": [result(0, 0.5, 0.4)]}
    claims = [Claim("b beats a", "a", "b", "mAP", 5.0), Claim("c beats a", "a", "c", "mAP", 5.0)]
    records = chapter.judged(runs, claims, seeds=[0, 1, 2], chance=0.01)
    assert [r["claim"] for r in records] == ["b beats a", "c beats a"]
    assert records[0]["ours"] == pytest.approx(10.0) and records[0]["verdict"] != "withdrawn"
    assert records[1]["verdict"] == "withdrawn" and "1 of 3 seeds" in records[1]["note"]
    gone = chapter.judged(runs, claims[:1], seeds=[0, 1, 2], chance=0.01, withdrawn={"b": "not trained"})
    assert gone[0]["verdict"] == "withdrawn" and gone[0]["note"] == "not trained"


def test_paper_beside_ours_shows_percent_with_spread():
    table = pd.DataFrame({"rank1 mean": [0.5], "rank1 std": [0.01], "mAP mean": [0.3], "mAP std": [0.02]},
                         index=["B/L"])
    view = chapter.paper_beside_ours(table, "I")
    assert view.loc["B/L", "ours rank-1"] == "50.0 ± 1.0" and view.loc["B/L", "ours mAP"] == "30.0 ± 2.0"
    assert view.loc["B/L", "paper mAP"] == value("fanet", "I", "Baseline", "mAP", "market1501")


def test_final_losses_average_the_last_epoch_over_seeds():
    runs = {"x": [{"history": [{"id": 9.0, "tal": 1.0}, {"id": 2.0, "tal": 0.5}]},
                  {"history": [{"id": 9.0}, {"id": 4.0, "tal": 0.7}]}],
            "y": [{"history": [{"id": 1.0, "camera": 3.0}]}]}
    assert chapter.final_losses(runs, ["x", "y"]) == {"x": {"id": 3.0, "tal": pytest.approx(0.6)}, "y": {"id": 1.0}}


def shown_for_gain(tal_v1_id):
    rank1 = {"B/L": 0.40, "B/L+TEM": 0.45, "B/L+TEM+BG": 0.46, "B/L+TEM+BG+IA": 0.47, "B/L+TEM+BG+IA+TAL": 0.50,
             "FA-Net": 0.55, "B/L+TEM+BG+IA+TALv1": 0.02, "B/L+TEM+BG+IA+TALv2": 0.45}
    ids = {"B/L+TEM+BG+IA": 1.0, "B/L+TEM+BG+IA+TALv1": tal_v1_id, "B/L+TEM+BG+IA+TALv2": 1.2,
           "B/L+TEM+BG+IA+TAL": 1.1}
    return {"profile": "cpu", "num_train_ids": 100,
            "table1": {n: {"rank1 mean": rank1[n]} for n in chapter.TABLE1},
            "table2": {n: {"rank1 mean": rank1[n]} for n in chapter.TABLE2},
            "final_losses": {n: {"id": v} for n, v in ids.items()}}


def test_gain_text_splits_the_lead_and_names_the_forms_that_stayed_at_guessing():
    weights = {"id": 1.0, "tal": 0.5}
    text = chapter.gain_text(shown_for_gain(4.5), weights)  # log 100 = 4.61: TALv1 stayed near guessing
    assert "FA-Net is +15.0 points of rank-1 from the baseline" in text
    assert "before HPP change rank-1 by +10.0 together, and the last, +HPP, by +5.0" in text
    assert "against 4.61 for guessing among 100 identities" in text
    assert "With TALv1 the network never learned to tell the people apart (rank-1 2.0 %)" in text
    assert "weighs 0.5 in the total loss against the person loss's 1" in text
    assert chapter.gain_text(shown_for_gain(2.0), weights).endswith(
        "Every form of the loss left the person loss well below guessing.")


def test_k_table_adds_fanets_own_k_and_sorts_by_k():
    runs = {"FA-Net k=1": [result(0, 0.2, 0.1), result(1, 0.4, 0.2)], "FA-Net k=64": [result(0, 0.5, 0.3)],
            "FA-Net": [result(0, 0.6, 0.4)]}
    table = chapter.k_table(runs, [64, 1], 256)
    assert list(table) == ["1", "64", "256"]
    assert table["1"]["rank1 mean"] == pytest.approx(0.3) and table["256"]["rank1 mean"] == pytest.approx(0.6)
    assert table["64"]["rank1 std"] == 0.0


def test_k_claims_only_when_k_equal_one_is_trained():
    (claim,) = chapter.k_claims([1, 8], 256)
    assert (claim.without, claim.with_, claim.metric, claim.direction) == ("FA-Net k=1", "FA-Net k=256", "rank1", 1)
    assert claim.paper_delta is None and claim.source == chapter.K_SOURCE
    assert chapter.k_claims([8, 64], 256) == []


def test_unseen_directions_per_kind_of_dataset():
    synth = chapter.unseen_directions("synth-tiny")
    assert list(synth) == ["A->B", "B->A"]
    assert synth["A->B"][1] is None and synth["B->A"][1] == ["data.dataset_options={scene_family: B}"]
    assert synth["B->A"][2]["data.test_dataset_options"] == {"scene_family": "A", "seed": 1}
    assert chapter.unseen_directions("market1501") == {}
    (real,) = chapter.unseen_directions("market1501", "dukemtmc", "/data/duke").values()
    assert real == ("market1501->dukemtmc", None,
                    {"data.test_dataset": "dukemtmc", "data.test_data_root": "/data/duke"})
    assert chapter.table3({}, {}, variants={}, profile="ci", seeds=[0], dataset="market1501", common=[],
                          withdrawn={}) == {}


def test_unseen_view_names_its_direction():
    view = chapter.unseen_view({"B/L": {"rank1 mean": 0.1, "rank1 std": 0.0, "mAP mean": 0.05, "mAP std": 0.01}},
                               "A->B")
    assert view.index.name == "trained and tested A->B" and view.loc["B/L", "mAP"] == "5.0 ± 1.0"


def test_background_variants_need_masks_on_real_data():
    assert list(chapter.background_variants("synth-small")) == ["original", "mean background", "random background"]
    assert chapter.background_variants("market1501") == {"original": {}}
    masked = chapter.background_variants("market1501", "/masks")
    assert len(masked) == 3 and all(t["data.mask_root"] == "/masks" for t in masked.values())


def test_beyond_scores_withdraw_a_random_background_score_some_seed_lacks(monkeypatch):
    def evaluate_run(run, test, device="auto"):
        return {"rank1": run["rank1"] - (0.1 if test else 0.0)}

    def evaluate_or_withdraw(run, test, what, reason=None, device="auto"):
        return Withdrawn(what, reason) if run["seed"] == 1 else evaluate_run(run, test)

    monkeypatch.setattr(chapter, "evaluate_run", evaluate_run)
    monkeypatch.setattr(chapter, "evaluate_or_withdraw", evaluate_or_withdraw)
    monkeypatch.setattr(chapter, "attention_run_scores", lambda run, key, masks, device="auto": {"iou": 0.5})
    runs = {"B/L": [result(0, 0.4, 0.2), result(1, 0.6, 0.3)], "B/L+TEM": [result(0, 0.5, 0.2)]}
    tests = {"original": {}, "mean background": {"x": 1}, "random background": {"x": 2}}
    beyond, gone = chapter.beyond_scores(runs, ["B/L", "B/L+TEM"], tests, "synth-tiny")
    assert beyond["B/L"] == {"original rank-1": pytest.approx(0.5), "mean background rank-1": pytest.approx(0.4)}
    assert beyond["B/L+TEM"] == {"original rank-1": 0.5, "mean background rank-1": pytest.approx(0.4),
                                 chapter.RANDOM: pytest.approx(0.4), "iou": 0.5}  # only rows with TEM have Zf
    assert gone == [Withdrawn(f"{chapter.RANDOM} of B/L", chapter.LEAKY_RANDOM_BACKGROUND)]


def test_random_background_sentence_and_table():
    records = [{"result": f"{chapter.RANDOM} of B/L", "reason": "leaked"}, {"result": "other", "reason": "x"}]
    out = chapter.random_withdrawn(records)
    assert out == {"B/L": "leaked"}
    beyond = pd.DataFrame({"original rank-1": [0.5, 0.6], chapter.RANDOM: [math.nan, 0.4], "iou": [math.nan, 0.55]},
                          index=["B/L", "FA-Net"])
    assert chapter.random_background_sentence(beyond, out) == ("rank-1 with random backgrounds is withdrawn for B/L: "
                                                              "leaked")
    beyond.loc["B/L", chapter.RANDOM] = 0.3
    assert chapter.random_background_sentence(beyond, {}) == ("with random backgrounds it keeps 40.0% rank-1, the "
                                                              "baseline 30.0%")
    assert chapter.random_background_sentence(beyond[["iou"]], {}) == "no random-background test was run here"
    table = chapter.beyond_table(beyond, out)
    assert list(table.columns) == ["original rank-1", chapter.RANDOM, "iou"]
    assert table.loc["B/L"].tolist() == ["0.50", "withdrawn", ""]
    assert table.loc["FA-Net"].tolist() == ["0.60", "0.40", "0.55"]


def test_rerank_scores_become_a_variant_of_their_own():
    scores = [{"seed": s, "rank1": 0.5, "mAP": 0.3, "rerank_rank1": 0.55, "rerank_mAP": 0.4 + s / 10,
               "num_valid_queries": 100} for s in range(2)]
    assert chapter.rerank_means({"FA-Net": scores, "B/L": []}) == {
        "FA-Net": {"rank1": 0.5, "mAP": 0.3, "rerank_rank1": 0.55, "rerank_mAP": pytest.approx(0.45)}}
    both = chapter.with_rerank(scores)
    assert both["FA-Net"] is scores
    assert both["FA-Net+RK"][1] == {"seed": 1, "rank1": 0.55, "mAP": 0.5, "num_valid_queries": 100}
    assert (chapter.rerank_claim().without, chapter.rerank_claim().with_) == ("FA-Net", "FA-Net+RK")


def test_tal_by_hand_normalises_each_channel_over_its_positions():
    F = torch.tensor([[[[3.0], [4.0]]]])  # one image, one channel, 2 x 1 positions: norm 5
    B = torch.tensor([[[[1.0], [0.0]]]])
    Zf = torch.tensor([[[[0.0], [1.0]]]])  # background at the first position, person at the second
    # F / 5 * (1 - Zf) = (0.6, 0); B / 1 * Zf = (0, 0): mean over the two positions 0.3
    torch.testing.assert_close(chapter.tal_by_hand(F, B, Zf), torch.tensor(0.3))
    torch.testing.assert_close(chapter.tal_by_hand(10 * F, B, Zf), torch.tensor(0.3))
