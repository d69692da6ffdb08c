"""The baselines chapter's own logic (reidlib.chapters.baselines) on small hand-made runs: nothing is trained."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pandas as pd
import pytest

from reidlib.chapters import baselines as chapter
from reidlib.engine import make_config
from reidlib.engine.config import ScheduleConfig, StageConfig


def seed_run(rank1, minutes=2.0, history=(), evals=()):
    return {"rank1": rank1, "train_seconds": 60 * minutes, "images_per_second": 100.0, "data_wait_share": 0.1,
            "history": list(history), "evals": list(evals)}


def seeds_out(*runs):
    """What run_seeds returns: the runs, and mean / std of each metric over them."""
    values = [r["rank1"] for r in runs]
    summary = {k: {"mean": sum(values) / len(values), "std": 0.01} for k in chapter.METRICS}
    return {"runs": list(runs), "summary": summary}


def test_describe_counts_the_parameters_of_the_built_model():
    cfg = make_config("ide", "ci", overrides=["loss.weights.triplet=1"])
    row = chapter.describe(cfg, num_ids=10, num_cameras=2)
    assert row["losses"] == "id x 1, triplet x 1"
    assert row["batch (P x K)"] == f"{cfg.data.batch_size // cfg.data.num_instances} x {cfg.data.num_instances}"
    assert row["input"] == f"{cfg.data.height}x{cfg.data.width}" and row["epochs"] == cfg.schedule.epochs
    more = chapter.describe(cfg, num_ids=1010, num_cameras=2)  # 1000 more classes: one more row of weights each
    assert more["parameters (M)"] > row["parameters (M)"]


def test_summary_rows_average_the_costs_and_withdraw_a_method_lacking_a_seed():
    runs = {"ide": seeds_out(seed_run(0.5, 1.0), seed_run(0.7, 3.0)), "dgd": seeds_out(seed_run(0.2))}
    rows, withdrawn = chapter.summary_rows(runs, [0, 1])
    assert list(rows) == ["ide"]
    assert rows["ide"]["rank1 mean"] == pytest.approx(0.6) and rows["ide"]["mINP std"] == 0.01
    assert rows["ide"]["train minutes"] == pytest.approx(2.0) and rows["ide"]["data wait"] == pytest.approx(0.1)
    assert withdrawn == [{"result": "dgd: the baseline's runs",
                          "reason": "1 of 2 seeds have a run record (trained before records were kept); retrained "
                                    "by the chapter issues"}]


def test_per_seed_records_keep_the_keys_asked_of_the_methods_shown():
    runs = {"ide": seeds_out(seed_run(0.5, history=[{"epoch": 1, "loss": 2.0, "lr": 0.1}])),
            "dgd": seeds_out(seed_run(0.2, history=[{"epoch": 1, "loss": 3.0}]))}
    assert chapter.per_seed_records(runs, {"ide": {}}, "history", ("epoch", "loss")) == {
        "ide": [[{"epoch": 1, "loss": 2.0}]]}


def test_reached_sentence_says_why_a_baseline_has_no_numbers():
    table = pd.DataFrame({"rank1 mean": [0.512], "mAP mean": [0.3]}, index=["ide"])
    withdrawn = [{"result": "dgd: the baseline's runs", "reason": "1 of 3 seeds"}]
    assert chapter.reached_sentence(table, withdrawn, ["ide", "dgd", "mscan_body"]) == (
        "the IDE baseline 51.2% rank-1 and 30.0% mAP; the DGD-style network: no numbers (1 of 3 seeds); "
        "MSCAN-body: no numbers (not run)")


def test_summary_view_formats_each_column():
    table = pd.DataFrame({**{f"{k} mean": [0.5] for k in chapter.METRICS},
                          **{f"{k} std": [0.012] for k in chapter.METRICS},
                          "train minutes": [2.25], "images/s": [99.6], "data wait": [0.123]}, index=["ide"])
    view = chapter.summary_view(table)
    assert view.loc["ide"].tolist() == ["50.0 ± 1.2", "50.0 ± 1.2", "50.0 ± 1.2", "2.2", "100", "12.3%"]


def test_reported_rows_give_one_row_per_dataset_and_nan_for_a_missing_map():
    rows = chapter.reported_rows("ide", "fanet", [{"table": "I", "row": "Baseline"}])
    market = next(r for r in rows if r["dataset"] == "market1501")
    assert market == {"method": "ide", "paper": "fanet", "table": "I", "row": "Baseline", "dataset": "market1501",
                      "rank-1 (%)": 89.7, "mAP (%)": 72.7}
    assert len({r["dataset"] for r in rows}) == len(rows) > 1
    settings, reported = chapter.paper_rows(["ide"])
    assert {r["paper"] for r in settings} == {"fanet", "fmn"} and {r["paper"] for r in reported} == {"fanet", "fmn"}
    assert all(isinstance(r["mAP (%)"], float) for r in reported)
    assert not any(math.isnan(r["mAP (%)"]) for r in reported if r["paper"] == "fanet")


def test_lr_curve_warms_up_steps_down_and_follows_each_stage():
    optim = SimpleNamespace(lr=0.1)
    one = SimpleNamespace(optim=optim, schedule=ScheduleConfig(epochs=4, warmup_epochs=2, warmup_factor=0.5,
                                                               milestones=[3], gamma=0.1))
    assert chapter.lr_curve(one) == pytest.approx([0.05, 0.075, 0.1, 0.01])
    two = SimpleNamespace(optim=optim, schedule=ScheduleConfig(
        epochs=3, warmup_epochs=0, milestones=[], stages=[StageConfig(epochs=2, lr=1.0), StageConfig()]))
    assert chapter.lr_curve(two) == pytest.approx([1.0, 1.0, 0.1, 0.1, 0.1])  # a stage's unset fields inherit
