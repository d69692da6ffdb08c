"""The market regime's tables: built from the code that defines the profile, the backbone's stages and the goals."""

from __future__ import annotations

import pytest

from reidlib.regime import GOALS, baseline_rows, goal_rows, scaled_down_table, stage_table


def test_stage_table_is_measured_from_the_backbone():
    table = stage_table(128, 64)
    assert table["stride"].tolist() == [2, 4, 8, 16, 16]
    assert table["channels"].tolist() == [16, 24, 32, 96, 1280]
    assert table.loc["layer3", "MobileNetV2 blocks"] == "7-13"
    assert stage_table(256, 128, last_stride=2).loc["layer4", "map at 256x128"] == "8x4"


def test_scaled_down_table_sets_the_profile_beside_each_papers_settings():
    table = scaled_down_table("ide")
    assert list(table.columns) == ["this study (market)", "fanet (paper)", "fmn (paper)"]
    assert table.loc["input (H x W)", "this study (market)"] == "128x64"
    assert table.loc["input (H x W)", "fanet (paper)"] == "384x128"
    assert table.loc["backbone", "this study (market)"] == "mobilenetv2 (ImageNet)"


def run(seed, rank1, mAP):
    return {"seed": seed, "rank1": rank1, "mAP": mAP, "mINP": mAP / 2, "train_seconds": 600.0,
            "images_per_second": 50.0, "data_wait_share": 0.05}


def summary_of(values):
    import numpy as np

    return {k: {"mean": float(np.mean([v[k] for v in values])), "std": float(np.std([v[k] for v in values], ddof=min(1, len(values) - 1)))}
            for k in ("rank1", "mAP", "mINP")}


def test_a_baseline_missing_a_seed_is_listed_apart_and_goals_are_checked_on_the_mean():
    bot = [run(0, 0.82, 0.61), run(1, 0.80, 0.60), run(2, 0.78, 0.58)]
    ide = [run(0, 0.70, 0.45)]
    summary, withdrawn = baseline_rows({"bot": {"runs": bot, "summary": summary_of(bot)},
                                        "ide": {"runs": ide, "summary": summary_of(ide)}}, [0, 1, 2])
    assert list(summary) == ["bot"] and summary["bot"]["seeds"] == 3
    assert summary["bot"]["rank1 mean"] == pytest.approx(0.80)
    assert withdrawn == [{"result": "ide: the baseline's runs", "reason": "1 of 3 seeds trained so far"}]
    goals = {(g["method"], g["metric"]): g["reached"] for g in goal_rows(summary)}
    assert goals == {("bot", "rank1"): True, ("bot", "mAP"): False}  # mAP mean 0.5967 < 0.60
    assert set(GOALS["bot"]) == {"rank1", "mAP"}


def test_lip_grouping_table_lists_every_lip_class_once_with_its_study_part():
    from reidlib.regime import lip_grouping_table

    table = lip_grouping_table()
    assert list(table.index) == list(range(20))
    assert table.loc[2, "study part"] == "head" and table.loc[9, "study part"] == "lower body"
    assert table.loc[6, "study part"].startswith("upper body above the hip line")


def test_parser_tables_show_held_out_parts_and_penn_fudan_side_by_side():
    from reidlib.regime import parser_tables

    scores = {"held_out_images": 10, "held_out_identities": 2,
              "held_out": {"iou": {"background": 0.9, "head": 0.5, "upper body": 0.7, "lower body": 0.6,
                                   "accessories": None}},
              "pennfudan": {"mobile_parser": {"iou": 0.6, "mean_iou": 0.62, "pedestrians": 5},
                            "person_segmenter": {"iou": 0.8, "mean_iou": 0.81, "pedestrians": 5}}}
    held, penn = parser_tables(scores)
    assert held["IoU (%)"].to_dict() == {"background": 90.0, "head": 50.0, "upper body": 70.0, "lower body": 60.0}
    assert penn["foreground IoU (%)"].tolist() == [60.0, 80.0]
