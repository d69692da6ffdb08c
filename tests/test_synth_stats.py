"""The image statistics SynthReID is held to: fine detail, colour, saturated hues, and the goal table."""

from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from reidlib.data.records import Record
from reidlib.data.synth.stats import (
    HUE_BINS,
    REALISM_GOALS,
    crops_to_measure,
    hue_distance,
    image_statistics,
    realism_table,
)


def save(tmp_path, name, array) -> str:
    path = tmp_path / f"{name}.png"
    Image.fromarray(np.asarray(array, np.uint8)).save(path)
    return str(path)


def test_flat_image_has_no_detail_and_a_checkerboard_has_much(tmp_path):
    flat = image_statistics([save(tmp_path, "flat", np.full((128, 64, 3), 120))])
    assert flat.mean_abs_gradient == 0 and flat.laplacian_variance == 0
    board = np.kron((np.indices((32, 16)).sum(0) % 2) * 255, np.ones((4, 4)))[..., None].repeat(3, 2)
    busy = image_statistics([save(tmp_path, "board", board)])
    assert busy.mean_abs_gradient > 30 and busy.laplacian_variance > 5_000


def test_hue_histogram_counts_only_coloured_pixels(tmp_path):
    red = np.zeros((128, 64, 3)); red[..., 0] = 200
    half = red.copy(); half[:, 32:] = 90  # right half grey: no hue
    dark_green = np.zeros((128, 64, 3)); dark_green[..., 1] = 30  # value below the threshold: no hue
    stats = image_statistics([save(tmp_path, "red", red), save(tmp_path, "half", half),
                              save(tmp_path, "dark", dark_green)])
    assert stats.hue_histogram.shape == (HUE_BINS,)
    assert stats.hue_histogram[0] == pytest.approx(1.0)
    green = np.zeros((128, 64, 3)); green[..., 1] = 200
    other = image_statistics([save(tmp_path, "green", green)])
    assert hue_distance(stats, other) == pytest.approx(2.0)
    assert hue_distance(stats, stats) == 0


def test_crops_to_measure_leaves_out_junk_and_distractors_and_needs_enough():
    Split = SimpleNamespace(  # the three attributes crops_to_measure reads
        name="toy", query=[Record(f"q{i}.jpg", i % 5 + 1, 0) for i in range(10)],
        gallery=[Record(f"j{i}.jpg", -1, 1) for i in range(5)] + [Record(f"d{i}.jpg", 0, 1) for i in range(5)]
        + [Record(f"g{i}.jpg", i % 5 + 1, 1) for i in range(10)])
    chosen = crops_to_measure(Split, n=20)
    assert len(chosen) == 20 and not any(p[0] in "jd" for p in chosen)
    assert crops_to_measure(Split, n=3) == ["q0.jpg", "g0.jpg", "g9.jpg"]  # spread evenly, ends included
    with pytest.raises(ValueError, match="toy has 20 test images of people, fewer than the 21"):
        crops_to_measure(Split, n=21)


def test_realism_table_holds_the_candidate_to_each_goal(tmp_path):
    rng = np.random.default_rng(0)
    real = np.clip(rng.normal(110, 40, (128, 64, 3)), 0, 255); real[..., 0] += 40  # busy, reddish
    smooth = np.full((128, 64, 3), 110.0); smooth[..., 1] = 180  # flat and green
    stats = {"real": image_statistics([save(tmp_path, "real", np.clip(real, 0, 255))]),
             "v1": image_statistics([save(tmp_path, "v1", smooth)]),
             "v2": image_statistics([save(tmp_path, "v2", np.clip(real + rng.normal(0, 5, real.shape), 0, 255))])}
    table = realism_table(stats, candidate="v2", reference="real", before="v1")
    assert list(table.columns) == ["real", "v1", "v2", "goal", "met"]
    assert table["met"].all()
    assert table.loc["mean abs gradient", "v2"] >= REALISM_GOALS["mean abs gradient"]
    failing = realism_table(stats, candidate="v1", reference="real", before="v1")
    assert not failing.loc["mean abs gradient", "met"] and not failing.loc["Laplacian variance", "met"]
    assert not failing.loc["hue distance to real", "met"]  # v1 cannot be within half of its own distance
    with pytest.raises(KeyError, match="no statistics for 'v3'"):
        realism_table(stats, candidate="v3", reference="real", before="v1")


def test_summary_keeps_the_keys_of_the_committed_results(tmp_path):
    stats = image_statistics([save(tmp_path, "flat", np.full((128, 64, 3), 120))])
    # results/cpu/synthreid_vs_cuhk01.json holds these: a new key there would fail make verify
    assert list(stats.summary()) == ["images", "mean R", "mean G", "mean B", "saturation", "brightness",
                                     "edge density", "foreground"]
    assert list(stats.detail()) == ["mean abs gradient", "Laplacian variance"]


def test_framing_statistics_reads_top_bottom_and_cuts():
    from reidlib.data.synth.stats import framing_statistics

    a = np.zeros((128, 64), np.uint8)
    a[10:118, 20:40] = 2
    a[3, 30] = 1  # one stray pixel does not move the top
    b = np.zeros((128, 64), np.uint8)
    b[0:128, 25:35] = 3  # cut at both ends
    f = framing_statistics([a, b, np.zeros((128, 64), np.uint8)])
    assert f["top"] == pytest.approx((10 / 128 + 0) / 2)
    assert f["bottom"] == pytest.approx((118 / 128 + 1) / 2)
    assert f["height"] == pytest.approx(f["bottom"] - f["top"])
    assert f["cut at bottom"] == f["cut at top"] == 0.5
    assert f["maps without a person"] == 1
    assert f["foreground"] == pytest.approx(((108 * 20 + 1) / (128 * 64) + 10 / 64) / 2)
    with pytest.raises(ValueError, match="no label map holds a person"):
        framing_statistics([np.zeros((4, 4))])


def test_role_shares_average_each_roles_pixel_share_and_refuse_unknown_labels():
    from reidlib.data.synth.stats import role_map_path, role_shares

    a = np.zeros((4, 2), np.uint8)  # all background
    b = np.array([[1, 1], [1, 1], [2, 2], [3, 0]], np.uint8)
    shares = role_shares([a, b])
    assert shares == pytest.approx({"background": (1 + 1 / 8) / 2, "target person": 0.25, "other people": 0.125,
                                    "occluders": 1 / 16})
    assert sum(shares.values()) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="label 7"):
        role_shares([np.full((2, 2), 7, np.uint8)])
    with pytest.raises(ValueError, match="no role maps"):
        role_shares([])
    assert role_map_path("/d/query/0001_c1s1_000001_01.jpg", "/d") == "/d/roles/query/0001_c1s1_000001_01.png"
