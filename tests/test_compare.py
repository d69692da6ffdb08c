"""The comparison chapter's entries and its difference rule."""

import pandas as pd
import pytest

from reidlib import compare
from reidlib.engine import make_config


def test_every_entry_is_a_valid_configuration_of_its_method():
    for e in compare.ENTRIES:
        cfg = make_config(e.method, "ci", overrides=list(e.overrides))
        assert cfg.method == e.method
    assert compare.entry("FA-Net").attention == "zf"
    with pytest.raises(KeyError, match="no entry"):
        compare.entry("nope")


def test_test_masks_marks_exactly_the_entries_that_read_masks_at_test_time():
    # retest gives a new test set's mask tree only to these; the others would refuse it.
    from reidlib.engine.data import needs_masks
    from reidlib.models.registry import build_model

    for e in compare.ENTRIES:
        cfg = make_config(e.method, "ci", overrides=list(e.overrides))
        reads = needs_masks(cfg, build_model(cfg, num_classes=4, num_cameras=2).needs)
        assert reads == e.test_masks, f"{e.label}: reads masks {reads}, test_masks {e.test_masks}"
    assert [e.label for e in compare.ENTRIES if e.test_masks] == [
        "person-region pooling", "person-region pooling + random backgrounds", "MGCAM"]


def runs(values):
    return [{"seed": s, "rank1": v, "num_valid_queries": 10000} for s, v in enumerate(values)]


def test_differences_call_better_worse_or_nothing_by_the_books_rule():
    table = compare.differences({compare.BASELINE: runs([0.50, 0.52, 0.54]),
                                 "clearly better": runs([0.60, 0.62, 0.64]),
                                 "noisy": runs([0.70, 0.40, 0.56]),
                                 "clearly worse": runs([0.40, 0.43, 0.44])}, "rank1")
    assert table.loc["clearly better", "verdict"] == "better"
    assert table.loc["clearly better", "difference"] == pytest.approx(10.0)
    assert table.loc["noisy", "verdict"] == "no difference called"
    assert table.loc["clearly worse", "verdict"] == "worse"
    assert compare.BASELINE not in table.index


def test_drops_are_per_seed_differences_from_the_reference_in_points():
    scores = pd.DataFrame([
        {"entry": "a", "seed": 0, "test": "original", "rank1": 0.8},
        {"entry": "a", "seed": 1, "test": "original", "rank1": 0.6},
        {"entry": "a", "seed": 0, "test": "mean_background", "rank1": 0.5},
        {"entry": "a", "seed": 1, "test": "mean_background", "rank1": 0.5},
    ])
    d = compare.drops(scores)
    assert d.loc[("a", "mean_background"), ("rank1", "mean")] == pytest.approx(-20.0)
    assert d.loc[("a", "mean_background"), ("rank1", "std")] == pytest.approx(14.142, abs=1e-3)
    assert ("a", "original") not in d.index


def test_mean_std_table_formats_percent():
    t = compare.mean_std_table({"x": runs([0.5, 0.7])}, ("rank1",))
    assert t.loc["x", "rank1"] == "60.0 ± 14.1"


def variant_rows(label, original, random):
    return ([{"entry": label, "seed": s, "test": "original", "rank1": v, "num_valid_queries": 10000}
             for s, v in enumerate(original)]
            + [{"entry": label, "seed": s, "test": "random_background", "rank1": v, "num_valid_queries": 10000}
               for s, v in enumerate(random)])


def test_verdicts_judge_each_question_against_the_baseline_seed_by_seed():
    base, other = compare.BASELINE, "FA-Net"
    shown = {
        "main": {other: runs([0.60, 0.62, 0.64]), base: runs([0.50, 0.52, 0.54])},
        # the baseline loses 30 points on random backgrounds, FA-Net 10: it loses 20 less
        "robustness": variant_rows(base, [0.5, 0.5, 0.5], [0.2, 0.21, 0.19])
                      + variant_rows(other, [0.6, 0.6, 0.6], [0.5, 0.49, 0.51]),
        "real": {"trained": {base: [], other: []},  # none trained yet (a partial run): no column
                 "transfer": [{"entry": label, "seed": s, "test": "CUHK01", "rank1": v, "num_valid_queries": 486}
                              for label, vs in ((base, [0.10, 0.12, 0.08]), (other, [0.30, 0.05, 0.14]))
                              for s, v in enumerate(vs)]},
    }
    calls = compare.question_calls(shown)
    assert list(calls["question"]) == ["accuracy", "random-background drop", "transfer"]
    assert set(calls["entry"]) == {other}
    by_question = calls.set_index("question")
    assert by_question.loc["random-background drop", "difference"] == pytest.approx(20.0)
    assert by_question["verdict"].to_dict() == {"accuracy": "better", "random-background drop": "better",
                                                "transfer": "no difference called"}
    table = compare.verdicts(calls)
    assert list(table.index) == [other]
    assert list(table.columns) == ["accuracy", "random-background drop", "transfer"]
    # the seeds agree exactly: the interval is the test set's sampling error alone
    assert table.loc[other, "accuracy"].startswith("better (+10.0 [+") and "+10.0 [+10.0" not in table.loc[other, "accuracy"]
    assert table.loc[other, "random-background drop"].startswith("better (+20.0 [")
    assert table.loc[other, "transfer"].startswith("no difference called (")
    with pytest.raises(KeyError, match="no results of the baseline"):
        compare.question_calls({"main": {other: runs([0.6, 0.6, 0.6])}})


def test_question_calls_keep_the_tables_entry_order_and_leave_unpaired_cells_empty():
    base = compare.BASELINE
    fmn, fanet = "FMN", "FA-Net"  # saved results have their keys sorted: FA-Net, FMN, baseline
    shown = {"main": {fanet: runs([0.6, 0.6, 0.6]), fmn: runs([0.4, 0.4, 0.4]), base: runs([0.5, 0.5, 0.5])},
             "real": {"trained": {base: runs([0.2, 0.2, 0.2]), fmn: runs([0.1, 0.1, 0.1]), fanet: []}}}
    table = compare.verdicts(compare.question_calls(shown))
    assert list(table.index) == [fanet, fmn]  # ENTRIES order
    assert table.loc[fmn, "real data"].startswith("worse (-10.0 [-1")
    assert pd.isna(table.loc[fanet, "real data"])  # no FA-Net run on real data yet


def test_dial_changes_call_a_rise_a_fall_or_no_change():
    dial = [{"bg_share": share, "entry": label, "seed": s, "rank1": v, "num_valid_queries": 2000}
            for label, by_share in {"rises": {0.0: [0.5, 0.5, 0.5], 1.0: [0.7, 0.71, 0.69]},
                                    "falls": {0.0: [0.5, 0.5, 0.5], 1.0: [0.3, 0.31, 0.29]},
                                    "noisy": {0.0: [0.5, 0.5, 0.5], 1.0: [0.8, 0.2, 0.5]}}.items()
            for share, values in by_share.items() for s, v in enumerate(values)]
    table = compare.dial_changes(dial)
    assert table["verdict"].to_dict() == {"rises": "rises", "falls": "falls", "noisy": "no change called"}
    assert table.loc["rises", "low"] < 20.0 - 4.30 * 0.577  # the seeds' spread and the test sets' error
    assert table.loc["rises", "change"] == pytest.approx(20.0)
    assert table.loc["falls", "bg_share 0"] == pytest.approx(50.0)
    with pytest.raises(ValueError, match="two bg_share settings"):
        compare.dial_changes([r for r in dial if r["bg_share"] == 0.0])


def _dataset(num_ids: int, per_camera: int = 1):
    from reidlib.data import Record, ReIDDataset

    def records(camid):
        return [Record(f"{p}_{camid}_{k}.jpg", p, camid) for p in range(num_ids) for k in range(per_camera)]

    return ReIDDataset("toy", "/nowhere", train=records(0)[:8], query=records(0), gallery=records(1))


def test_chance_rank1_is_the_share_of_true_matches_in_the_gallery():
    # One true match among 40 cross-camera gallery images: a random ranking finds it first 1 time in 40.
    assert compare.chance_rank1(_dataset(40), draws=200) == pytest.approx(1 / 40, abs=0.006)
    # Two true matches among 60: 1 in 30.
    assert compare.chance_rank1(_dataset(30, per_camera=2), draws=200) == pytest.approx(1 / 30, abs=0.006)
    # A video dataset is ranked by tracklet, as the trainer ranks it: 3 frames of one tracklet count once.
    from dataclasses import replace

    frames = _dataset(40)
    frames.query = [replace(r, tracklet=r.pid) for r in frames.query]
    frames.gallery = [replace(r, path=f"{r.path}.{k}", tracklet=1000 + r.pid) for r in frames.gallery for k in range(3)]
    frames.is_video = True
    assert compare.chance_rank1(frames, draws=50) == compare.chance_rank1(_dataset(40), draws=50)


def test_identity_learning_reads_first_and_last_epoch_beside_a_uniform_guess():
    import math

    history = [{"kind": "epoch", "epoch": 1, "id": 2.2}, {"kind": "eval", "rank1": 0.1},
               {"kind": "epoch", "epoch": 2, "id": 1.0}]
    config = {"eval": {"protocol": None}}  # the trainer's default, market
    rows = compare.identity_learning([{"seed": 3, "rank1": 0.5, "history": history, "config": config}], _dataset(40))
    assert len(rows) == 1
    row = rows[0]
    assert (row["dataset"], row["seed"], row["first epoch"], row["last epoch"]) == ("toy", 3, 2.2, 1.0)
    assert row["uniform guess ln(N)"] == pytest.approx(math.log(8))  # the 8 training identities
    assert row["rank1"] == 0.5 and 0 < row["chance rank1"] < 0.1
    table = compare.learning_table(rows + [{**row, "seed": 4, "last epoch": 1.4}])
    assert list(table.index) == ["toy"]
    assert list(table.columns) == ["first epoch", "last epoch", "uniform guess ln(N)", "loss fall (% of ln N)",
                                   "rank1", "chance rank1", "times chance"]
    assert table.loc["toy", "loss fall (% of ln N)"] == pytest.approx(100 * (2.2 - 1.2) / math.log(8))
    assert table.loc["toy", "rank1"] == pytest.approx(50.0)
    assert compare.learning_table([]).empty
    with pytest.raises(KeyError, match="no 'id_grn' loss"):
        compare.identity_learning([{"seed": 0, "rank1": 0.5, "history": history, "config": config}], _dataset(40),
                                  term="id_grn")


@pytest.mark.parametrize("profile", ["ci", "cpu", "gpu"])
def test_no_two_entries_train_the_same_config(profile):
    # At gpu the bgbias method is the paper's own model, random backgrounds included: the plain
    # pooling entry must switch them off itself, or the two pooling columns are one model.
    prints = {e.label: make_config(e.method, profile, overrides=list(e.overrides)).fingerprint()
              for e in compare.ENTRIES}
    assert len(set(prints.values())) == len(prints), prints


def test_a_question_is_not_testable_where_the_baseline_did_not_learn_the_real_data():
    base, other = compare.BASELINE, "FA-Net"
    shown = {"dataset": "synth-small",
             "main": {other: runs([0.60, 0.62, 0.64]), base: runs([0.50, 0.52, 0.54])},
             "real": {"trained": {base: runs([0.015, 0.016, 0.014]), other: runs([0.40, 0.41, 0.42])},
                      "learning": [{"dataset": "synth-small", "chance rank1": 0.006},
                                   {"dataset": "cuhk01", "chance rank1": 0.0023}]}}
    calls = compare.question_calls(shown).set_index("question")
    # CUHK01's baseline: rank-1 1.5 %, 6.5 times chance (floor 10): its column is not testable
    assert calls.loc["real data", "verdict"] == "not testable here"
    assert calls.loc["accuracy", "verdict"] == "better"


def test_kept_scores_keep_what_the_results_file_keeps():
    kept = compare.kept_scores({"x": [{**runs([0.5])[0], "mAP": 0.3, "mINP": 0.1, "history": [1]}]})
    assert kept == {"x": [{"seed": 0, "rank1": 0.5, "mAP": 0.3, "mINP": 0.1, "num_valid_queries": 10000}]}


def test_variant_tests_are_the_four_test_variants_with_the_pool_for_random_backgrounds():
    tests = compare.variant_tests()
    assert list(tests) == ["original", "background_only", "mean_background", "random_background"]
    assert tests["mean_background"] == {"data.test_background": "mean_background"}
    assert tests["random_background"]["data.background_pool"] == compare.BACKGROUND_POOL


def test_bias_dial_adds_the_datasets_own_share_to_the_ones_trained_again(monkeypatch):
    from reidlib.data.synth.presets import make_config as synth_config

    trained = []

    def fake_run_entries(profile, seeds, dataset, common):
        trained.append(common[-1])
        return {compare.BASELINE: [{**r, "mAP": 0.2, "mINP": 0.1} for r in runs([0.4, 0.5])]}

    monkeypatch.setattr(compare, "run_entries", fake_run_entries)
    own = {compare.BASELINE: [{**r, "mAP": 0.3, "mINP": 0.1, "history": []} for r in runs([0.6, 0.7])]}
    dial = compare.bias_dial(own, "ci", [0, 1], "synth-tiny", ["device=cpu"], [0.0, 1.0])
    assert trained == ["data.dataset_options={bg_share: 0.0}", "data.dataset_options={bg_share: 1.0}"]
    assert [r["bg_share"] for r in dial] == [synth_config("tiny").bg_share] * 2 + [0.0, 0.0, 1.0, 1.0]
    assert set(dial[0]) == {"bg_share", "entry", *compare.KEPT_SCORES}
    means = compare.dial_means(dial)
    assert means.loc[compare.BASELINE, ("rank1", 0.0)] == pytest.approx(45.0)
    assert compare.bias_dial(own, "ci", [0, 1], "cuhk01", [], [0.0]) == []  # no knob on real data


def test_localisation_rows_only_for_entries_with_an_attention_map(monkeypatch):
    from reidlib.engine import records

    asked = []

    def fake_scores(run, key, device="auto"):
        asked.append(key)
        return {"iou": 0.5, "contrast": 0.2, "inside": 0.9}

    monkeypatch.setattr(records, "attention_run_scores", fake_scores)
    all_runs = {e.label: runs([0.5, 0.6]) for e in compare.ENTRIES}
    all_runs["FA-Net"] = runs([0.55, 0.6])
    rows = compare.localisation(all_runs, "cpu")
    with_maps = [e.label for e in compare.ENTRIES if e.attention]
    assert [r["entry"] for r in rows] == [label for label in with_maps for _ in range(2)]
    assert rows[0] == {"entry": "FA-Net", "seed": 0, "gain": pytest.approx(5.0), "iou": 0.5, "contrast": 0.2}
    assert set(asked) == {e.attention for e in compare.ENTRIES if e.attention}
    assert "iou" not in compare.localisation(all_runs, "cpu", synthetic=False)[0]  # real data: no exact masks


def test_real_data_records_the_withdrawn_transfer_tests_before_training(monkeypatch):
    from reidlib.data import catalog, segment

    transfer = pd.DataFrame([{"entry": compare.BASELINE, "seed": 0, "test": "CUHK01", "rank1": float("nan"),
                              "num_valid_queries": float("nan"), "withdrawn": "no weights here"}])
    monkeypatch.setattr(segment, "cached_masks", lambda root, name, progress=True: "/masks")
    monkeypatch.setattr(compare, "retest", lambda runs, tests, device, test_mask_root=None: transfer)

    def not_trained(*args):
        raise RuntimeError("not trained")

    monkeypatch.setattr(compare, "run_entries", not_trained)
    withdrawn = []
    with pytest.raises(RuntimeError):
        compare.real_data({}, "cpu", [0], "synth-tiny", None, "cuhk01", "/real", [], "cpu", withdrawn)
    assert withdrawn == [{"result": f"{compare.BASELINE}: CUHK01 test", "reason": "no weights here"}]

    monkeypatch.setattr(compare, "run_entries", lambda profile, seeds, dataset, extra: {
        compare.BASELINE: [{**runs([0.3])[0], "mAP": 0.2, "mINP": 0.1, "extra": extra}]})
    monkeypatch.setattr(catalog, "open_dataset", lambda name, root: name)
    monkeypatch.setattr(compare, "identity_learning", lambda results, data: [{"dataset": data}])
    real = compare.real_data({compare.BASELINE: []}, "cpu", [0], "synth-tiny", None, "cuhk01", "/real", ["a=1"],
                             "cpu", [])
    assert real["trained"] == {compare.BASELINE: [{"seed": 0, "rank1": 0.3, "mAP": 0.2, "mINP": 0.1,
                                                   "num_valid_queries": 10000}]}
    assert real["learning"] == [{"dataset": "synth-tiny"}, {"dataset": "cuhk01"}]
    assert real["transfer"][0]["withdrawn"] == "no weights here"
