"""Run records: a finished cpu / gpu run's results and scores outlive its run folder."""

import dataclasses
import json
import shutil
from pathlib import Path

import pytest

from reidlib.engine import make_config, records, run_seeds, train
from reidlib.engine.records import MissingRunError, evaluate_run, load_for_pictures, record_path, score_key
from reidlib.engine.trainer import default_output_dir, load_run
from reidlib.paths import REPO_ROOT

# The cpu profile shrunk to seconds (a record belongs to the cpu and gpu profiles only).
SMALL = ["data.height=64", "data.width=32", "data.batch_size=16", "data.num_workers=0", "data.test_batch_size=64",
         "schedule.epochs=1", "schedule.warmup_epochs=0", "schedule.milestones=[]", "eval.every=0", "eval.flip=false",
         "data.erasing_p=0.0", "progress=false"]


@pytest.fixture
def study(tmp_path, monkeypatch):
    """Runs under ``tmp/runs``, records under ``tmp/results``: a study in a scratch repository."""
    from reidlib.engine import trainer

    monkeypatch.setattr(trainer, "RUNS_DIR", tmp_path / "runs")
    monkeypatch.setattr(records, "results_dir", lambda profile: tmp_path / "results" / profile)
    monkeypatch.delenv("REIDLIB_PARTIAL", raising=False)

    def config(seed=0, placed=True):
        cfg = make_config("ide", "cpu", "synth-tiny", seed=seed, overrides=SMALL)
        return dataclasses.replace(cfg, output_dir=str(default_output_dir(cfg))) if placed else cfg

    return config


def test_only_default_cpu_and_gpu_run_folders_have_records(tmp_path):
    assert record_path("ide", "cpu", tmp_path / "runs" / "ide" / "cpu-synth-small-s0-abc").name == "cpu-synth-small-s0-abc.json"
    assert record_path("ide", "ci", tmp_path / "runs" / "ide" / "ci-synth-tiny-s0-abc") is None
    assert record_path("ide", "cpu", tmp_path / "runs" / "smoke" / "ide" / "cpu-synth-tiny-s0-abc") is None
    assert record_path("ide", "cpu", tmp_path / "elsewhere" / "s0") is None


def test_score_keys_name_test_settings_not_this_clones_paths():
    a = score_key("evaluate", {"data.test_mask_root": str(REPO_ROOT / ".cache" / "masks"), "device": "cuda"})
    b = score_key("evaluate", ["data.test_mask_root=<repo>/.cache/masks"])
    assert a == b and str(REPO_ROOT) not in a
    assert score_key("evaluate", {"eval.rerank": True}) != score_key("evaluate", None)
    assert score_key("attention", None, key="zf") != score_key("attention", None, key="cfa")


def test_a_record_stands_in_for_a_run_folder_that_is_gone(study):
    cfg = study()
    res = train(cfg)
    path = record_path("ide", "cpu", cfg.output_dir)
    assert path.exists() and json.loads(path.read_text())["results"]["mAP"] == res["mAP"]
    masked = evaluate_run(res, ["data.test_background=mean_background"])
    assert masked == load_run(cfg.output_dir, ["data.test_background=mean_background"]).evaluate()

    shutil.rmtree(cfg.output_dir)  # a later sitting, on a fresh machine
    again = train(cfg)  # the record, not a new training run
    assert again["mAP"] == res["mAP"] and again["train_seconds"] == res["train_seconds"]
    assert again["output_dir"] == cfg.output_dir and not (Path(cfg.output_dir) / "checkpoint.pt").exists()
    assert evaluate_run(again, ["data.test_background=mean_background"]) == masked  # recorded
    with pytest.raises(MissingRunError, match="has no score"):
        evaluate_run(again, ["data.test_background=background_only"])  # never computed, and no weights


def test_the_weights_kept_for_pictures_load_without_the_run_folder(study):
    cfg = study()
    res = train(cfg)
    assert load_for_pictures(res).evaluate()["mAP"] == pytest.approx(res["mAP"])
    assert records.weights_path(record_path("ide", "cpu", cfg.output_dir)).exists()
    shutil.rmtree(cfg.output_dir)
    assert load_run(cfg.output_dir).evaluate()["mAP"] == pytest.approx(res["mAP"])
    assert evaluate_run(res, {"eval.rerank": True})["rank1"] == pytest.approx(res["rank1"])


def test_a_run_without_folder_record_or_kept_weights_says_what_is_missing(study):
    cfg = study()
    with pytest.raises(MissingRunError, match="no trained model"):
        load_run(cfg.output_dir)


def test_partial_mode_trains_nothing_and_returns_the_finished_seeds(study, monkeypatch):
    first = train(study(0))
    monkeypatch.setenv("REIDLIB_PARTIAL", "1")
    out = run_seeds(study(placed=False), [0, 1])
    assert [r["seed"] for r in out["runs"]] == [0] and out["runs"][0]["mAP"] == first["mAP"]
    assert not (Path(study(1).output_dir) / "checkpoint.pt").exists()  # seed 1 was not trained


def test_a_partial_studys_stand_in_for_the_first_seed_keeps_no_weights(study, monkeypatch):
    second = train(study(1))
    monkeypatch.setenv("REIDLIB_PARTIAL", "1")
    runs = run_seeds(study(placed=False), [0, 1])["runs"]
    assert [(r["seed"], r.get("stand_in")) for r in runs] == [(1, True)]  # seed 0 is not trained yet
    load_for_pictures(runs[0])
    path = record_path("ide", "cpu", second["output_dir"])
    assert path.exists() and not path.with_suffix(".pt").exists()
    assert "stand_in" not in json.loads(path.read_text())["results"]
    monkeypatch.delenv("REIDLIB_PARTIAL")
    runs = run_seeds(study(placed=False), [0, 1])["runs"]  # the ordinary run trains seed 0 and draws from it
    assert [r.get("stand_in") for r in runs] == [None, None]
    load_for_pictures(runs[0])
    assert record_path("ide", "cpu", runs[0]["output_dir"]).with_suffix(".pt").exists()


def test_a_record_of_other_settings_is_refused(study):
    cfg = study()
    train(cfg)
    path = record_path("ide", "cpu", cfg.output_dir)
    record = json.loads(path.read_text())
    record["results"]["fingerprint"] = "0" * 16
    path.write_text(json.dumps(record))
    shutil.rmtree(cfg.output_dir)
    with pytest.raises(ValueError, match="other settings"):
        train(cfg)


def test_a_score_two_processes_ask_for_at_once_is_computed_once(study):
    import threading
    import time

    res = train(study())
    calls = []

    def slow_score():
        calls.append(threading.get_ident())
        time.sleep(0.3)  # long enough for the other asker to arrive while it is being computed
        return {"value": len(calls)}

    got = []
    askers = [threading.Thread(target=lambda: got.append(records._memo(res, "test-score", slow_score))) for _ in range(2)]
    for t in askers:
        t.start()
    for t in askers:
        t.join(10)
    assert len(calls) == 1 and got == [{"value": 1}, {"value": 1}]
    assert json.loads(record_path("ide", "cpu", res["output_dir"]).read_text())["scores"]["test-score"] == {"value": 1}


# Keys copied from committed records (e.g. results/cpu/runs/bgbias/cpu-synth-small-s0-30371e9a.json).
OLD_RANDOM_BACKGROUND_KEY = ('evaluate {"settings": {"data.background_pool": "synth-scenes:C", '
                             '"data.test_background": "random_background"}}')
MEAN_BACKGROUND_KEY = ('evaluate {"settings": {"data.background_pool": "synth-scenes:C", '
                       '"data.test_background": "mean_background"}}')
RANDOM_BACKGROUND_TEST = {"data.test_background": "random_background", "data.background_pool": "synth-scenes:C"}


def test_scores_on_the_random_background_test_set_have_a_new_key_and_others_keep_theirs():
    new = score_key("evaluate", RANDOM_BACKGROUND_TEST)
    assert new != OLD_RANDOM_BACKGROUND_KEY  # the leaky v1 test set's scores are not found under it
    assert f'"random_background_test": "{records.RANDOM_BACKGROUND_TEST}"' in new
    assert new == score_key("evaluate", [f"{k}={v}" for k, v in RANDOM_BACKGROUND_TEST.items()])
    assert "random_background_test" in score_key("attention", RANDOM_BACKGROUND_TEST, key="zf", mask_root=None)
    assert score_key("evaluate", ["data.test_background=mean_background",
                                  "data.background_pool=synth-scenes:C"]) == MEAN_BACKGROUND_KEY
    assert (score_key("evaluate", {"data.test_background": "original"})
            == 'evaluate {"settings": {"data.test_background": "original"}}')
    assert score_key("evaluate", None) == 'evaluate {"settings": {}}'
    assert (score_key("attention", None, key="zf", mask_root=None)
            == 'attention {"key": "zf", "mask_root": null, "settings": {}}')


def test_a_recorded_score_on_the_old_random_background_test_set_is_not_reused(study):
    res = train(study())
    path = record_path("ide", "cpu", res["output_dir"])
    record = json.loads(path.read_text())
    stale = {"rank1": -1.0, "rank5": -1.0, "mAP": -1.0, "mINP": -1.0}
    record["scores"].update({OLD_RANDOM_BACKGROUND_KEY: stale, MEAN_BACKGROUND_KEY: stale})
    path.write_text(json.dumps(record))
    assert evaluate_run(res, {"data.test_background": "mean_background",
                              "data.background_pool": "synth-scenes:C"}) == stale  # its key is unchanged
    fresh = evaluate_run(res, RANDOM_BACKGROUND_TEST)
    assert 0 <= fresh["mAP"] <= 1  # tested again, on the new test set
    assert json.loads(path.read_text())["scores"][score_key("evaluate", RANDOM_BACKGROUND_TEST)] == fresh


def test_a_runs_fingerprint_is_the_same_in_every_clone(tmp_path, monkeypatch):
    # Records are found by fingerprint: a data or mask path under the clone must not enter it as an absolute path.
    from reidlib.engine import make_config, records
    from reidlib.paths import REPO_ROOT

    here = make_config("ide", "cpu", "synth-small", overrides=[f"data.mask_root={REPO_ROOT}/.cache/masks/x"]).fingerprint()
    elsewhere = tmp_path / "another-clone"
    monkeypatch.setattr(records, "_PATH_ROOTS", {"<repo>": elsewhere})
    there = make_config("ide", "cpu", "synth-small", overrides=[f"data.mask_root={elsewhere}/.cache/masks/x"])
    assert there.fingerprint() == here != make_config("ide", "cpu", "synth-small").fingerprint()
    # and a path outside both roots still counts as itself
    other = make_config("ide", "cpu", "synth-small", overrides=[f"data.mask_root={tmp_path}/masks"])
    assert other.fingerprint() != here
