"""The datasets chapter's foreground fractions: per image, summarised per camera, compared across sources."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from reidlib.chapters.datasets import (
    SYNTH_ROW,
    comparison_table,
    foreground_comparison,
    foreground_fractions,
    fraction_summary,
    rounded,
)


class FakeMasks:
    """A mask source whose label maps are given by path."""

    def __init__(self, maps: dict[str, np.ndarray]):
        self.maps = maps

    def load(self, path):
        return self.maps[path]


def test_foreground_fractions_count_every_part_label_as_person():
    maps = {"a": np.array([[0, 1], [2, 0]]), "b": np.array([[4, 4], [3, 0]]), "c": np.zeros((2, 2), int)}
    records = [SimpleNamespace(path=p) for p in ("a", "b", "c")]
    np.testing.assert_allclose(foreground_fractions(FakeMasks(maps), records), [0.5, 0.75, 0.0])


def test_fraction_summary_averages_all_images_and_each_camera_counted_from_one():
    summary = fraction_summary(np.array([0.2, 0.4, 0.6, 0.8]), np.array([0, 0, 1, 1]))
    assert summary["cuhk01_foreground_fraction"]["mean"] == pytest.approx(0.5)
    assert summary["cuhk01_foreground_fraction"]["std"] == pytest.approx(np.std([0.2, 0.4, 0.6, 0.8]))
    assert summary["cuhk01_foreground_fraction_by_camera"] == pytest.approx({"camera 1": 0.3, "camera 2": 0.7})
    assert all(type(v) is float for v in summary["cuhk01_foreground_fraction_by_camera"].values())


def test_comparison_adds_cuhk01_only_where_results_are_committed_and_names_their_profile():
    synth = np.array([0.3, 0.5])
    alone = foreground_comparison(synth, None)
    assert list(alone) == [SYNTH_ROW]
    assert alone[SYNTH_ROW] == pytest.approx({"mean": 0.4, "std": 0.1})
    real = {"profile": "cpu", "cuhk01_foreground_fraction": {"mean": 0.61234567, "std": 0.1}}
    both = foreground_comparison(synth, real)
    assert list(both) == [SYNTH_ROW, "CUHK01 (segmenter, cpu results)"]
    assert rounded(both)["CUHK01 (segmenter, cpu results)"] == {"mean": 0.6123, "std": 0.1}
    table = comparison_table(both)
    assert list(table.columns) == ["mean foreground fraction", "std"]
    assert table.loc[SYNTH_ROW, "mean foreground fraction"] == pytest.approx(0.4)
