"""Mask quality: degradations of part masks, their config keys, and re-testing a trained run on other masks."""

import dataclasses

import numpy as np
import pytest
import torch
from torchvision import tv_tensors
from torchvision.transforms import v2

from reidlib.data import MaskError, MaskSource, write_label_map
from reidlib.data.mask_quality import Degradation, degrade, mask_iou, parse_degradation, segmenter_masks
from reidlib.engine import ConfigError, make_config, train
from reidlib.engine.config import TrainConfig, build

# A 7 x 7 person: a head row (1) over a 4 x 3 upper body (2).
PERSON = np.array([
    [0, 0, 0, 0, 0, 0, 0],
    [0, 0, 1, 1, 1, 0, 0],
    [0, 0, 2, 2, 2, 0, 0],
    [0, 0, 2, 2, 2, 0, 0],
    [0, 0, 2, 2, 2, 0, 0],
    [0, 0, 2, 2, 2, 0, 0],
    [0, 0, 0, 0, 0, 0, 0]], np.uint8)


# ----------------------------------------------------------------------------- degradations

def test_erosion_removes_the_rim_of_the_person():
    eroded = degrade(PERSON, "erode:1")
    want = np.zeros_like(PERSON)
    want[2:5, 3] = 2  # only the middle column is more than 1 pixel from the background
    np.testing.assert_array_equal(eroded, want)
    assert eroded.dtype == np.uint8
    assert not degrade(PERSON, "erode:2").any()


def test_erosion_does_not_eat_from_the_image_border():
    # Feet cut by the crop's lower edge: the border is not a person boundary.
    legs = np.zeros((4, 5), np.uint8)
    legs[1:, 1:4] = 3
    want = np.zeros_like(legs)
    want[2:, 2] = 3
    np.testing.assert_array_equal(degrade(legs, "erode:1"), want)
    full = np.full((3, 3), 2, np.uint8)  # no background at all: nothing to erode
    np.testing.assert_array_equal(degrade(full, "erode:1"), full)


def test_dilation_grows_a_disk_labelled_by_the_nearest_part():
    want1 = np.array([
        [0, 0, 1, 1, 1, 0, 0],
        [0, 1, 1, 1, 1, 1, 0],
        [0, 2, 2, 2, 2, 2, 0],
        [0, 2, 2, 2, 2, 2, 0],
        [0, 2, 2, 2, 2, 2, 0],
        [0, 2, 2, 2, 2, 2, 0],
        [0, 0, 2, 2, 2, 0, 0]], np.uint8)
    np.testing.assert_array_equal(degrade(PERSON, "dilate:1"), want1)
    grown = degrade(PERSON, "dilate:2")
    # A disk: (0, 0) is sqrt(5) from the head's corner (1, 2), beyond radius 2; (0, 1) is sqrt(2) from it.
    assert grown[0, 0] == 0 and grown[0, 1] == 1 and grown[3, 0] == 2 and grown[6, 6] == 0
    np.testing.assert_array_equal(grown[PERSON > 0], PERSON[PERSON > 0])  # person pixels keep their labels
    assert not degrade(np.zeros((3, 3), np.uint8), "dilate:2").any()


def test_shift_moves_the_label_map_right_and_fills_with_background():
    row = np.array([[1, 2, 3, 4, 0, 0, 4, 3]], np.uint8)  # width 8: F = 0.25 is 2 pixels
    np.testing.assert_array_equal(degrade(row, "shift:0.25"), [[0, 0, 1, 2, 3, 4, 0, 0]])
    np.testing.assert_array_equal(degrade(row, "shift:-0.25"), [[3, 4, 0, 0, 4, 3, 0, 0]])
    np.testing.assert_array_equal(degrade(PERSON, "shift:0.3")[:, 4:], PERSON[:, 2:5])  # 0.3 x 7 -> 2 pixels
    assert not degrade(PERSON, "shift:0.3")[:, :4].any()


def test_specs_parse_to_one_canonical_spelling():
    assert parse_degradation("erode:3") == Degradation("erode", 3)
    assert str(parse_degradation(" Dilate:02 ")) == "dilate:2"
    assert str(parse_degradation("shift:0.10")) == "shift:0.1" and str(parse_degradation("shift:-0.2")) == "shift:-0.2"
    for same in ("none", "erode:0", "dilate:0", "shift:0"):
        assert parse_degradation(same) == Degradation()
        np.testing.assert_array_equal(degrade(PERSON, same), PERSON)
    spec = parse_degradation("erode:1")
    np.testing.assert_array_equal(spec(PERSON), degrade(PERSON, "erode:1"))  # specs are callables


@pytest.mark.parametrize("bad", ["blur:3", "erode:1.5", "erode:-1", "dilate:", "erode", "shift:1", "shift:-1.5",
                                 "shift:x", "", "none:1", 3])
def test_bad_specs_name_the_allowed_forms(bad):
    with pytest.raises(ValueError, match=r"none, erode:K or dilate:K .* shift:F"):
        parse_degradation(bad)


def test_degrade_wants_one_label_map():
    with pytest.raises(ValueError, match=r"\(H, W\) label map"):
        degrade(np.zeros((2, 3, 3), np.uint8), "erode:1")


def test_mask_iou_compares_foregrounds():
    assert mask_iou(PERSON, PERSON) == 1.0
    assert mask_iou(PERSON, degrade(PERSON, "erode:1")) == pytest.approx(3 / 15)
    assert mask_iou(PERSON, PERSON * 0) == 0.0 and mask_iou(PERSON * 0, PERSON * 0) == 1.0
    assert mask_iou(np.stack([PERSON, PERSON]), np.stack([PERSON, PERSON * 0])) == pytest.approx(0.5)  # pooled


# ----------------------------------------------------------------------------- config keys

def test_mask_keys_are_checked_and_canonical_in_configs():
    cfg = make_config("mgcam", "ci", overrides=["data.mask_degradation=Erode:2", "data.test_mask_degradation=shift:0.10"])
    assert (cfg.data.mask_degradation, cfg.data.test_mask_degradation) == ("erode:2", "shift:0.1")
    with pytest.raises(ConfigError, match=r"data\.test_mask_degradation: unknown mask degradation 'blur:3'.*erode:K"):
        make_config("mgcam", "ci", overrides=["data.test_mask_degradation=blur:3"])
    with pytest.raises(ConfigError, match=r"data\.mask_degradation: .*whole number"):
        build(TrainConfig, {"data": {"mask_degradation": "dilate:two"}})


def test_mask_keys_at_their_defaults_leave_fingerprints_unchanged():
    # The fingerprint of the default config before the mask keys existed.
    assert TrainConfig().fingerprint() == "b5de29eb01f80b3e"
    cfg = make_config("mgcam", "ci")
    old = cfg.to_dict()
    for key in ("mask_degradation", "test_mask_degradation", "test_mask_root"):
        del old["data"][key]  # a run recorded before the keys existed
    assert build(TrainConfig, old).fingerprint() == cfg.fingerprint()
    assert make_config("mgcam", "ci", overrides=["data.mask_degradation=erode:0"]).fingerprint() == cfg.fingerprint()
    changed = {make_config("mgcam", "ci", overrides=[o]).fingerprint() for o in (
        "data.mask_degradation=erode:1", "data.test_mask_degradation=erode:1", "data.test_mask_root=/m")}
    assert len(changed) == 3 and cfg.fingerprint() not in changed


def test_mask_settings_on_a_run_without_masks_are_refused():
    from reidlib.engine.data import build_run_data, open_run_dataset

    cfg = make_config("ide", "ci", overrides=["data.test_mask_degradation=dilate:2"])
    with pytest.raises(ConfigError, match=r"data\.test_mask_degradation=dilate:2 changes nothing.*loads no masks"):
        build_run_data(cfg, open_run_dataset(cfg), model_needs=())


# ----------------------------------------------------------------------------- a trained run on other masks

@pytest.fixture(scope="module")
def mgcam_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("mask_quality") / "run"
    res = train(make_config("mgcam", "ci", overrides=[f"output_dir={out}", "schedule.epochs=1", "data.erasing_p=0.0"]))
    return out, res


def test_test_mask_degradation_reaches_the_model_input(mgcam_run):
    from reidlib.engine.trainer import load_run

    out, res = mgcam_run
    plain = load_run(out)
    dilated = load_run(out, ["data.test_mask_degradation=dilate:2"])
    assert dilated.data.train.dataset.masks.transform is None  # training masks untouched
    # The degradation acts on the mask as loaded, before the resize: the sample's mask and
    # its RGB-M channel are the resized degraded mask.
    rec = dilated.data.dataset.query[0]
    truth = MaskSource(dilated.data.dataset.root).load(rec.path)
    sample = dilated.data.query.dataset[0]
    want = v2.functional.resize(tv_tensors.Mask(torch.from_numpy(degrade(truth, "dilate:2"))), [64, 32])
    assert torch.equal(sample["mask"].as_subclass(torch.Tensor), want.as_subclass(torch.Tensor))
    assert torch.equal(sample["image"][3], (want > 0).float())
    assert not torch.equal(plain.data.query.dataset[0]["mask"], sample["mask"])

    base = plain.evaluate()
    assert base["mAP"] == pytest.approx(res["mAP"])
    feats, _ = plain.features("query")
    worse, _ = dilated.features("query")
    assert not torch.allclose(feats, worse)
    scores = dilated.evaluate()
    assert (scores["rank1"], scores["mAP"]) != (base["rank1"], base["mAP"])


def test_test_mask_root_reads_another_mask_tree(mgcam_run, tmp_path):
    from reidlib.engine.trainer import load_run

    out, _ = mgcam_run
    with pytest.raises(MaskError, match=r"data\.test_mask_root: no mask folder at .*nowhere"):
        load_run(out, [f"data.test_mask_root={tmp_path / 'nowhere'}"])
    # A tree of dilated ground truth tests the same as dilating at load time.
    dilated = load_run(out, ["data.test_mask_degradation=dilate:2"])
    ds, truth = dilated.data.dataset, MaskSource(dilated.data.dataset.root)
    for rec in ds.query + ds.gallery:
        target = tmp_path / "m" / truth.path_for(rec.path).relative_to(truth.mask_root)
        write_label_map(target, degrade(truth.load(rec.path), "dilate:2"))
    other = load_run(out, [f"data.test_mask_root={tmp_path / 'm'}"])
    assert torch.equal(other.features("query")[0], dilated.features("query")[0])
    # Degradations apply to the other tree too.
    both = load_run(out, [f"data.test_mask_root={tmp_path / 'm'}", "data.test_mask_degradation=erode:1"])
    assert both.data.query.dataset.masks.mask_root == (tmp_path / "m").resolve()
    assert str(both.data.query.dataset.masks.transform) == "erode:1"


def test_segmenter_masks_of_a_synth_dataset(tmp_path):
    stats = segmenter_masks("synth-tiny", tmp_path / "seg")
    assert stats["images"] == len(list((tmp_path / "seg").rglob("*.png")))
    assert {p.name for p in (tmp_path / "seg").iterdir()} == {"query", "bounding_box_test"}
    assert 0.6 < stats["iou"] <= 1.0 and 0.6 < stats["mean_iou"] <= 1.0
    with pytest.raises(ValueError, match="has none.*segment masks"):
        segmenter_masks("market1501", tmp_path / "real")


def test_replace_keeps_checking():
    cfg = make_config("mgcam", "ci")
    with pytest.raises(ConfigError, match="data.mask_degradation"):
        dataclasses.replace(cfg.data, mask_degradation="shrink:2")
