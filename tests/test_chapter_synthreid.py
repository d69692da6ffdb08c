"""The SynthReID chapter's own logic (reidlib.chapters.synthreid) on small hand-made inputs: no training."""

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from reidlib.chapters import synthreid
from reidlib.data.records import Record
from reidlib.data.synth import PRESETS


def test_each_profile_has_its_preset_and_large_presets_turn_their_knobs_on_synth_tiny():
    assert [synthreid.default_dataset(p) for p in ("ci", "cpu", "gpu")] == ["synth-tiny", "synth-small",
                                                                             "synth-market"]
    with pytest.raises(KeyError):
        synthreid.default_dataset("market")
    assert synthreid.knob_dataset("synth-small") == "synth-small"
    assert synthreid.knob_dataset("synth-tiny") == "synth-tiny"
    assert synthreid.knob_dataset("synth-market") == "synth-tiny"
    assert synthreid.knob_dataset("synth-duke") == "synth-tiny"


def test_preset_table_has_one_row_per_preset_and_writes_ranges_as_from_to():
    table = synthreid.preset_table()
    assert list(table.index) == list(PRESETS)
    assert table.loc["small", "train ids"] == PRESETS["small"].num_train_ids
    made = SimpleNamespace(num_train_ids=3, num_test_ids=4, num_gallery_only_ids=0, num_cameras=2,
                           num_distractor_images=5, num_junk_images=6, images_per_tracklet=(2, 7), bg_share=0.5)
    row = synthreid.preset_table({"made": made}).loc["made"]
    assert row["images per tracklet"] == "2-7" and row["cameras"] == 2 and row["bg_share"] == 0.5


def fake_picture(path):
    """A 2 x 1 picture whose every value is the number in ``path``."""
    return np.full((2, 1, 3), int(path), dtype=np.uint8)


def test_tracklet_rows_give_one_row_per_camera_padded_with_white():
    records = [Record("1", 7, 2), Record("2", 7, 0), Record("3", 7, 2), Record("4", 8, 1), Record("5", 7, 2)]
    cells, width, cameras = synthreid.tracklet_rows(records, 7, load=fake_picture)
    assert width == 3 and cameras == [0, 2]
    assert [int(c[0, 0, 0]) for c in cells] == [2, 255, 255, 1, 3, 5]
    assert all(c.shape == (2, 1, 3) for c in cells)


def test_identity_pictures_takes_the_first_training_images_of_one_identity():
    d = SimpleNamespace(train=[Record(str(i), i % 2, 0) for i in range(1, 12)])
    pics = synthreid.identity_pictures(d, 1, count=3, load=fake_picture)
    assert [int(p[0, 0, 0]) for p in pics] == [1, 3, 5]


def test_ide_scores_withdraw_a_run_without_record(monkeypatch):
    asked = []
    monkeypatch.setattr(synthreid, "color_histogram_baseline", lambda d: {"cmc": [0.2, 0.3], "mAP": 0.1})
    monkeypatch.setattr(synthreid, "run_seeds", lambda cfg, seeds: asked.append((cfg, seeds)) or {"runs": []})
    scores, withdrawn = synthreid.ide_scores("synth-tiny", None, "ci", 3, difficulty=1.0)
    assert scores["histogram rank-1"] == 0.2 and math.isnan(scores["CNN rank-1"]) and math.isnan(scores["CNN mAP"])
    assert withdrawn == [{"result": "IDE on synth-tiny {'difficulty': 1.0}", "reason": withdrawn[0]["reason"]}]
    cfg, seeds = asked[0]
    assert seeds == [3] and cfg.method == "ide" and cfg.data.dataset == "synth-tiny"
    assert cfg.data.dataset_options["difficulty"] == 1.0
    monkeypatch.setattr(synthreid, "run_seeds", lambda cfg, seeds: {"runs": [{"rank1": 0.6, "mAP": 0.4}]})
    scores, withdrawn = synthreid.ide_scores("synth-tiny", None, "ci", 0)
    assert scores["CNN rank-1"] == 0.6 and scores["CNN mAP"] == 0.4 and withdrawn == []


def test_difficulty_scores_test_the_dataset_then_its_variants_and_collect_what_is_withdrawn(monkeypatch):
    calls = []

    def fake_scores(name, d, cnn_profile, seed, **knobs):
        calls.append((name, d, cnn_profile, knobs))
        gone = [{"result": name}] if knobs else []
        return {"histogram rank-1": 1 / 3, "CNN rank-1": 0.5}, gone

    monkeypatch.setattr(synthreid, "ide_scores", fake_scores)
    monkeypatch.setattr(synthreid, "variant", lambda dataset, seed, **knobs: f"{dataset} at {knobs}")
    table, withdrawn = synthreid.difficulty_scores("ds", "synth-market", "gpu", 0)
    assert list(table) == ["synth-market", "synth-market, difficulty 0", "synth-market, difficulty 1"]
    assert table["synth-market"]["histogram rank-1"] == 0.3333  # rounded to 4 digits
    assert calls[0] == ("synth-market", "ds", "cpu", {})
    assert calls[2] == ("synth-tiny", "synth-market at {'difficulty': 1.0}", "cpu", {"difficulty": 1.0})
    assert withdrawn == [{"result": "synth-tiny"}, {"result": "synth-tiny"}]


def test_difficulty_glue_says_when_a_cnn_number_is_missing():
    hard = pd.DataFrame({"a": {"histogram rank-1": 0.1, "CNN rank-1": 0.5},
                         "a, difficulty 0": {"histogram rank-1": 0.2, "CNN rank-1": 0.625},
                         "a, difficulty 1": {"histogram rank-1": 0.3, "CNN rank-1": float("nan")}}).T
    glued = synthreid.difficulty_glue(hard)
    assert glued["hist_rank1"] == 0.1 and glued["cnn_rank1"] == 0.5
    assert glued["cnn_difficulty"] == "62.5% at difficulty 0 and no number (its run has no record) at difficulty 1"


def test_bias_glue_reads_the_lowest_and_highest_bg_share():
    bias = pd.DataFrame({"bg_share 0.0": {"chance rank-1": 0.01, "KISSME rank-1": 0.1},
                         "bg_share 0.5": {"chance rank-1": 0.01, "KISSME rank-1": 0.2},
                         "bg_share 1.0": {"chance rank-1": 0.01, "KISSME rank-1": 0.4}}).T
    assert synthreid.bias_glue(bias) == {"bias_r1_low": 0.1, "bias_r1_high": 0.4, "bias_chance": 0.01}


def test_comparison_sample_is_seeded_without_repeats_and_takes_all_of_a_small_set():
    real = [f"r{i}" for i in range(20)]
    synth = [Record(f"s{i}", i, 0) for i in range(5)]
    a_real, a_synth = synthreid.comparison_sample(real, synth, seed=1, count=8)
    b_real, b_synth = synthreid.comparison_sample(real, synth, seed=1, count=8)
    assert a_real == b_real and a_synth == b_synth
    assert len(set(a_real)) == 8 and set(a_real) <= set(real)
    assert sorted(r.path for r in a_synth) == [r.path for r in synth]
    assert synthreid.comparison_sample(real, synth, seed=2, count=8)[0] != a_real


def test_realism_glue_counts_goals_met():
    from reidlib.chapters.synthreid import realism_glue

    row = {"chance rank-1": 0.01, "KISSME rank-1": 0.02}
    realism = {"goals": [
        {"measure": "mean abs gradient", "SynthReID v2": 12.0, "goal": ">= 11", "met": True},
        {"measure": "Laplacian variance", "SynthReID v2": 700.0, "goal": ">= 810", "met": False},
        {"measure": "saturation", "SynthReID v2": 0.16, "goal": "+- 0.03", "met": True}],
        "colour histogram": {"SynthReID v1": {"rank-1": 0.2}, "SynthReID v2": {"rank-1": 0.06}},
        "background only": {"SynthReID v2": {"bg_share 1.0": {**row, "KISSME rank-1": 0.05,
                                                              "histogram top-1 in own camera": 0.98},
                                             "bg_share 0.0": row},
                            "SynthReID v1": {"bg_share 1.0": {"histogram top-1 in own camera": 0.88}}},
        "roles": {"SynthReID v2": {"background": 0.5, "target person": 0.3, "other people": 0.15, "occluders": 0.05}}}
    assert realism_glue(realism) == pytest.approx({
        "realism_met": 2, "realism_goals": 3, "v2_gradient": 12.0, "v2_laplacian": 700.0, "v1_hist_rank1": 0.2,
        "v2_hist_rank1": 0.06, "v2_bias_low": 0.02, "v2_bias_high": 0.05, "v2_bias_chance": 0.01,
        "v2_others_kept": 0.2 / 0.7, "v1_own_camera": 0.88, "v2_own_camera": 0.98})  # of what blanking the target keeps, other people and occluders


def test_market_framing_sample_needs_the_parsing_maps(tmp_path):
    from reidlib.chapters.synthreid import market_framing_sample

    folder = tmp_path / "parsing" / "bounding_box_train"
    folder.mkdir(parents=True)
    for i in range(6):
        Image.fromarray(np.full((8, 4), i, np.uint8)).save(folder / f"000{i}_c1s1_000001_00.png")
    maps = market_framing_sample(tmp_path, count=3)
    assert [int(m[0, 0]) for m in maps] == [0, 2, 4]  # evenly spaced in file order
    with pytest.raises(FileNotFoundError, match="fewer than the 10 asked for"):
        market_framing_sample(tmp_path, count=10)


def test_renderer_transfer_tests_each_renderer_on_its_own_split_and_the_real_sets_and_withdraws_the_missing(
        monkeypatch):
    from reidlib.ablation import Withdrawn

    configs = []

    def fake_run_seeds(cfg, seeds):
        configs.append(cfg)
        return {"runs": [{"seed": s, "config": cfg, "rank1": 0.5, "mAP": 0.4} for s in seeds]}

    def fake_evaluate(run, overrides, what, reason=None, device="auto"):
        if overrides.get("data.test_dataset") == "market1501" and run["seed"] == 4:
            return Withdrawn(what, "no weights here")
        return {"rank1": {3: 0.1, 4: 0.2}.get(run["seed"], 0.01), "mAP": 0.05}

    monkeypatch.setattr(synthreid, "run_seeds", fake_run_seeds)
    monkeypatch.setattr("reidlib.ablation.evaluate_or_withdraw", fake_evaluate)
    out = synthreid.renderer_transfer(seeds=(3, 4), profile="ci", dataset="synth-tiny")
    # Both renderers on synth-tiny, then the CUHK01 reference; renderer 2 is the one knob that differs.
    assert [c.data.dataset for c in configs] == ["synth-tiny", "synth-tiny", "cuhk01"]
    assert configs[0].data.dataset_options == {} and configs[1].data.dataset_options == {"renderer": 2}
    assert configs[0].model == configs[1].model and configs[0].schedule == configs[1].schedule
    assert str(configs[2].data.mask_root).endswith("masks/cuhk01")  # as the comparison chapter's CUHK01 runs
    rows = pd.DataFrame(out["rows"])
    assert len(rows) == 2 * 2 * 3 + 3  # 2 renderers x 2 seeds x 3 tests, and the reference's committed 3 seeds
    assert list(rows[rows["trained on"] == "CUHK01"]["seed"]) == [0, 1, 2]
    assert set(rows["tested on"]) == {"own test split", "CUHK01", "Market-1501"}
    gone = rows[rows["rank-1"].isna()]
    assert list(gone["tested on"]) == ["Market-1501", "Market-1501"] and set(gone["seed"]) == {4}
    assert len(out["withdrawn"]) == 2 and "no weights here" in out["withdrawn"][0]["reason"]
    table = synthreid.transfer_table(out)
    assert table.loc["SynthReID v2", ("rank-1", "CUHK01")] == pytest.approx(15.0)  # mean of 10 % and 20 %
    assert table.loc["SynthReID v1", ("rank-1", "Market-1501")] == pytest.approx(10.0)  # the seed left is kept
    assert math.isnan(table.loc["CUHK01", ("rank-1", "Market-1501")])
    # The own test split (and the CUHK01 reference on CUHK01) is each run's own result, not a new test.
    assert table.loc["SynthReID v1", ("rank-1", "own test split")] == table.loc["CUHK01", ("rank-1", "CUHK01")] == 50.0


def test_transfer_glue_reads_the_means_per_renderer_and_test_set():
    rows = [{"trained on": name, "seed": s, "tested on": test, "rank-1": r1 + s * 0.02, "mAP": 0.1}
            for name, r1 in (("SynthReID v1", 0.05), ("SynthReID v2", 0.09)) for s in (0, 1)
            for test in ("own test split", "CUHK01", "Market-1501")]
    rows += [{"trained on": "CUHK01", "seed": s, "tested on": "CUHK01", "rank-1": 0.015, "mAP": 0.03} for s in (0, 1)]
    glued = synthreid.transfer_glue({"rows": rows})
    assert glued["v2_cuhk01"] == pytest.approx(0.10) and glued["v1_market"] == pytest.approx(0.06)
    assert glued["cuhk01_trained"] == pytest.approx(0.015)
    assert len(glued) == 7  # 2 renderers x 3 test sets, and the reference


def test_own_camera_top1_follows_the_protocol_and_counts_nearest_items_in_the_query_camera():
    # Two queries (id 1 in camera 0, id 2 in camera 1); gallery: id 1 cam 0 (left out for query 1),
    # junk in cam 0 (always left out), id 3 cam 0, id 1 cam 1.
    q_pids, q_cams = [1, 2], [0, 1]
    g_pids, g_cams = [1, -1, 3, 1], [0, 0, 0, 1]
    dist = np.array([[0.0, 0.1, 0.5, 0.9],    # nearest kept: id 3 in cam 0, the query's camera
                     [0.9, 0.0, 0.8, 0.2]])   # nearest kept: id 1 in cam 1, the query's camera
    assert synthreid.own_camera_top1(dist, q_pids, g_pids, q_cams, g_cams) == 1.0
    dist[0, 3] = 0.2  # now the true match in camera 1 comes first for query 1
    assert synthreid.own_camera_top1(dist, q_pids, g_pids, q_cams, g_cams) == 0.5
