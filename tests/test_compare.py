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
    return [{"seed": s, "rank1": v} for s, v in enumerate(values)]


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
