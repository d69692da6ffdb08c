"""The MobileNetV2 part parser trained on Market-1501's LIP maps (reidlib.models.mobile_parser,
reidlib.data.market_parser): identity hold-out, training and resuming, evaluation, mask trees."""

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from test_lip import H, W, fake_market_with_parsing, person_study
from test_segmenter import fake_pennfudan

from reidlib.data import lip, market_parser
from reidlib.data.datasets import load_dataset
from reidlib.data.masks import MaskSource
from reidlib.data.segmenter import PersonSegmenter
from reidlib.models.mobile_parser import NUM_PARTS, MobileParser
from reidlib.models.mobilenet import IMAGENET_SHA256
from reidlib.paths import REPO_ROOT

# The fake release has 10 + 2 identities, not Market-1501's official counts: the reader warns.
pytestmark = pytest.mark.filterwarnings("ignore:market1501 .* the official release has:UserWarning")

FAST = ["--epochs", "2", "--batch", "8", "--inter-channels", "16", "--no-progress"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """A fake release with LIP maps, a fake Penn-Fudan and a segmenter that holds out two of its scenes."""
    root = tmp_path_factory.mktemp("data")
    market = fake_market_with_parsing(root / "market1501")
    pennfudan = fake_pennfudan(root / "PennFudanPed")
    segmenter = root / "segmenter.pt"
    torch.save({"model": "PersonSegmenter", "width": 4, "state_dict": PersonSegmenter(4).state_dict(),
                "held_out_scenes": ["Scene00001", "Scene00003"]}, segmenter)
    common = ["--data-root", str(market["root"]), "--parsing", str(market["parsing"])]
    return {**market, "pennfudan": pennfudan, "segmenter": segmenter, "common": common,
            "pf": ["--pennfudan", str(pennfudan), "--segmenter", str(segmenter)]}


@pytest.fixture(scope="module")
def weights(data, tmp_path_factory):
    out = tmp_path_factory.mktemp("parser") / "mobile.pt"
    assert market_parser.main(["train", *data["common"], *data["pf"], "--out", str(out), *FAST]) == 0
    return out


def test_output_is_four_part_logits_at_the_input_size():
    model = MobileParser(pretrained=None, inter_channels=16).eval()
    assert model(torch.zeros(2, 3, 128, 64)).shape == (2, NUM_PARTS, 128, 64)
    assert model(torch.zeros(1, 3, 64, 32)).shape == (1, NUM_PARTS, 64, 32)


def test_the_encoder_starts_from_imagenet():
    random, pretrained = MobileParser(pretrained=None), MobileParser(pretrained="imagenet")
    assert pretrained.encoder.weights_sha256 == IMAGENET_SHA256 and random.encoder.weights_sha256 is None
    w = "encoder.stem.0.0.weight"
    assert not torch.equal(random.state_dict()[w], pretrained.state_dict()[w])


def test_the_hold_out_is_by_identity_and_deterministic(data):
    ds = load_dataset("market1501", data["root"])
    train, held = market_parser.split_by_identity(ds.train, holdout=0.2, seed=0)
    ids = lambda recs: {market_parser.identity_of(r) for r in recs}
    assert len(ids(held)) == 2 and len(ids(train)) == 8 and not ids(train) & ids(held)
    assert len(train) + len(held) == len(ds.train) == 30
    again, other = market_parser.split_by_identity(ds.train, 0.2, 0), market_parser.split_by_identity(ds.train, 0.2, 5)
    assert [r.path for r in again[1]] == [r.path for r in held]
    assert ids(other[1]) != ids(held)  # another seed holds out other people
    # A tenth of 10 identities is one; every image of that identity is held out.
    _, tenth = market_parser.split_by_identity(ds.train, 0.1, 0)
    assert len(ids(tenth)) == 1 and len(tenth) == 3


def test_training_checkpoints_every_epoch_and_resumes(data, tmp_path, capsys, monkeypatch):
    out = tmp_path / "p.pt"
    args = ["train", *data["common"], *data["pf"], "--out", str(out), "--pretrained", "none", *FAST]
    real_eval, calls = market_parser.evaluate_tensors, []

    def interrupted(*a, **k):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt  # the session ends during the second epoch's validation
        return real_eval(*a, **k)

    monkeypatch.setattr(market_parser, "evaluate_tensors", interrupted)
    with pytest.raises(KeyboardInterrupt):
        market_parser.main(args)
    partial = out.with_suffix(".partial.pt")
    assert partial.exists() and not out.exists()
    text = capsys.readouterr().out
    # 28 maps: 1 identity of 10 held out (3 maps); the 2 images without a map are said, not used.
    assert "25 training images, 3 held-out of 1 identities" in text and "2 training images have no map" in text
    assert "epoch 1/2: loss" in text
    assert torch.load(partial, weights_only=False)["epoch"] == 0
    monkeypatch.setattr(market_parser, "evaluate_tensors", real_eval)
    # Other settings do not resume someone else's run.
    assert market_parser.main([*args, "--lr", "0.5"]) == 2
    assert "other settings (lr: 0.001 there, 0.5 now)" in capsys.readouterr().err
    assert market_parser.main(args) == 0
    text = capsys.readouterr().out
    assert "resuming from" in text and "epoch 2/2" in text and "epoch 1/2" not in text
    ckpt = torch.load(out, weights_only=True)
    assert ckpt["model"] == "MobileParser" and [h["epoch"] for h in ckpt["history"]] == [1, 2]
    with_map, _, _, _ = market_parser.labelled_records(data["root"], data["parsing"])
    held = market_parser.split_by_identity(with_map, 0.1, 0)[1]
    assert ckpt["split"]["held_out_identities"] == [market_parser.identity_of(held[0])] and not partial.exists()
    assert isinstance(market_parser.load_mobile_parser(out), MobileParser)


def test_evaluate_reports_per_part_iou_and_penn_fudan_beside_the_segmenter(data, weights, capsys):
    ckpt = torch.load(weights, weights_only=True)
    assert ckpt["encoder_init"] == IMAGENET_SHA256
    assert set(ckpt["held_out"]["iou"]) == {"background", "head", "upper body", "lower body"}
    result = market_parser.evaluate_market_parser(weights, data["root"], data["parsing"], data["pennfudan"],
                                                  progress=False, reference=data["segmenter"])
    held = result["held_out"]
    assert set(held["iou"]) == {"background", "head", "upper body", "lower body"}
    assert all(0.0 <= v <= 1.0 for v in held["iou"].values()) and 0.0 <= held["foreground_iou"] <= 1.0
    assert result["held_out_images"] == 3 and held["pixels"] == 3 * H * W
    # The model has not changed since its last epoch: the same scores as the checkpoint's.
    assert held == ckpt["held_out"]
    pf = result["pennfudan"]
    # Scenes 1 and 3 of the fake Penn-Fudan hold 2 and 2 pedestrians.
    assert pf["held_out_scenes"] == 2
    assert pf["mobile_parser"]["pedestrians"] == pf["person_segmenter"]["pedestrians"] == 4
    assert 0.0 <= pf["mobile_parser"]["iou"] <= 1.0
    assert market_parser.main(["evaluate", "--weights", str(weights), *data["common"], *data["pf"],
                               "--no-progress"]) == 0
    assert "this parser) vs" in capsys.readouterr().out


def test_masks_write_a_tree_that_mask_source_reads(data, weights, tmp_path, capsys):
    out = tmp_path / "parts"
    assert market_parser.main(["masks", "--weights", str(weights), *data["common"], "--out", str(out),
                               "--no-progress"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["written"] == {"query": 2, "gallery": 4, "train": 30}
    ds = load_dataset("market1501", data["root"])
    source = MaskSource(ds.root, out)
    for r in ds.query + ds.gallery + ds.train:
        labels = source.load(r.path, size=(H, W))
        assert labels.dtype == np.uint8 and labels.max() < NUM_PARTS
    assert len(list(out.rglob("*.png"))) == 36
    # Writing into the parsing folder would overwrite the LIP maps.
    assert market_parser.main(["masks", "--weights", str(weights), *data["common"], "--out",
                               str(data["parsing"]), "--no-progress"]) == 2
    assert "parsing folder" in capsys.readouterr().err


def test_fill_predicts_only_what_the_converted_tree_lacks(data, weights, tmp_path, capsys):
    out = tmp_path / "masks"
    lip.write_market_parsing_masks(data["parsing"], out, progress=False)
    assert market_parser.main(["masks", "--weights", str(weights), *data["common"], "--out", str(out), "--fill",
                               "--no-progress"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["written"] == {"query": 2, "gallery": 4, "train": 2} and report["kept"]["train"] == 28
    source = MaskSource(data["release"], out)
    # The converted LIP maps are kept as they were.
    assert np.array_equal(source.load(data["release"] / "bounding_box_train" / "0001_c1s1_000101_01.jpg"),
                          person_study(0))
    for missing in data["missing"]:
        assert source.load(data["release"] / missing, size=(H, W)).max() < NUM_PARTS
    summary = json.loads((out / market_parser.SUMMARY_FILE).read_text())
    assert summary["predicted_train_masks"] == data["missing"]


def test_weights_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="reidlib.data.market_parser train"):
        market_parser.load_mobile_parser(tmp_path / "none.pt")
    torch.save({"model": "PartParser", "state_dict": {}}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a MobileParser checkpoint"):
        market_parser.load_mobile_parser(tmp_path / "other.pt")


# ---------------------------------------------------------------------------- the real data

SHARED_DATA = Path(os.environ.get("REID_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
PENNFUDAN = SHARED_DATA / "PennFudanPed"


@pytest.mark.skipif(not (PENNFUDAN / "PedMasks").is_dir(),
                    reason=f"real Penn-Fudan not found at {PENNFUDAN} (set REID_SHARED_DATA)")
def test_real_penn_fudan_crops_are_the_shipped_segmenters_own_held_out_ones():
    from reidlib.data.segmenter import WEIGHTS

    # The shipped segmenter scores here what its training recorded: the same 85 crops of its 34 held-out scenes.
    result = market_parser.pennfudan_side_by_side(MobileParser(pretrained=None, inter_channels=16), PENNFUDAN)
    recorded = torch.load(WEIGHTS, weights_only=True)["held_out_iou"]
    assert result["held_out_scenes"] == 34 and result["person_segmenter"]["pedestrians"] == 85
    assert result["person_segmenter"]["iou"] == pytest.approx(recorded["iou"], abs=1e-3)


def test_ship_halves_the_convolutions_and_the_shipped_file_predicts_as_the_trained_one(data, weights, tmp_path,
                                                                                       capsys):
    shipped = tmp_path / "market_parser.pt"
    assert market_parser.main(["ship", "--weights", str(weights), "--out", str(shipped)]) == 0
    state = torch.load(shipped, weights_only=True)["state_dict"]
    assert {v.dtype for k, v in state.items() if v.ndim > 1} == {torch.float16}
    assert all(v.dtype != torch.float16 for v in state.values() if v.ndim <= 1)  # BN statistics stay float32
    x = torch.randn(2, 3, H, W)
    full, half = market_parser.load_mobile_parser(weights), market_parser.load_mobile_parser(shipped)
    with torch.no_grad():
        agree = (full(x).argmax(1) == half(x).argmax(1)).float().mean().item()
    assert agree > 0.98
    torch.save({"model": "other"}, tmp_path / "other.pt")
    assert market_parser.main(["ship", "--weights", str(tmp_path / "other.pt"), "--out", str(tmp_path / "x.pt")]) == 2
    assert "not a finished MobileParser checkpoint" in capsys.readouterr().err
