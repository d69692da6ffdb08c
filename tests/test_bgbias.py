"""The guided-pooling network: region gates, branches, stages."""

import pytest
import torch

from reidlib.engine import make_config, train
from reidlib.models.bgbias import ABLATION_ROWS, BgBiasOptions, region_gates
from reidlib.models.registry import build_model


def labels():
    lab = torch.zeros(2, 8, 4, dtype=torch.long)
    lab[:, 0:2, 1:3] = 1  # head
    lab[:, 2:5, 1:3] = 2  # upper body
    lab[:, 5:8, 1:3] = 3  # lower body
    lab[:, 3, 3] = 4  # a bag: counts as upper torso
    return lab


def test_region_gates_cover_their_parts():
    g = region_gates(labels(), ["head", "upper", "lower", "foreground"], (8, 4))
    assert g.shape == (2, 4, 8, 4)
    assert g[0, 0, 0:2, 1:3].eq(1).all() and g[0, 0].sum() == 4
    assert g[0, 1, 3, 3] == 1 and g[0, 1].sum() == 7  # upper torso + the bag
    assert torch.equal(g[0, 3], (labels()[0] > 0).float())
    half = region_gates(labels(), ["head"], (4, 2))  # area down-sampling: the share of each cell
    assert half[0, 0, 0].tolist() == [0.5, 0.5]


def test_branches_gate_inception1_and_fuse():
    cfg = make_config("bgbias", "ci")
    model = build_model(cfg, num_classes=5, num_cameras=2)
    batch = {"image": torch.randn(2, 3, 64, 32), "mask": torch.nn.functional.interpolate(
        labels()[:, None].float(), size=(64, 32)).long()[:, 0], "pid": torch.tensor([0, 1])}
    out = model(batch)
    assert out["logits"].shape == (2, 5) and out["feature"].shape == (2, 256)
    assert len(model.branches) == 3 and model.needs == ("mask",)
    # a region with no pixels gives its branch an all-zero input
    seen = []
    model.branches[0]["inception2"].register_forward_hook(lambda m, i, o: seen.append(i[0]))
    empty = {**batch, "mask": torch.zeros_like(batch["mask"])}
    model(empty)
    assert seen[-1].abs().max() == 0
    with torch.no_grad():
        model.main.inception2[0].branch1x1[0].weight.add_(1.0)  # the main network has trained...
    model.on_stage_start("branches")  # ...stage III starts every branch from it
    for b in model.branches:
        for name in ("inception2", "inception3", "head"):
            ours, main = b[name].state_dict(), getattr(model.main, name).state_dict()
            assert all(torch.equal(ours[k], main[k]) for k in main)
    main_only = build_model(make_config("bgbias", "ci", overrides=["model.options.regions=[]"]), 5, 2)
    assert main_only.fusion is None and main_only.needs == ()
    with pytest.raises(ValueError, match="unknown region"):
        BgBiasOptions(regions=["torso"])
    assert set(ABLATION_ROWS) >= {"Main-net only", "Ours (3-branch)"}


def test_stages_train_main_then_branches_from_its_copy(tmp_path):
    res = train(make_config("bgbias", "ci", overrides=[f"output_dir={tmp_path}"]))
    assert [h["stage"] for h in res["history"]] == ["main", "branches", "all"]
    assert "id_main" in res["history"][0] and 0 <= res["mAP"] <= 1
    ck = torch.load(tmp_path / "checkpoint.pt", weights_only=True)["model"]
    # after stage III the branches started from the main network, then trained on their own
    assert ck["branches.0.head.2.weight"].shape == ck["main.head.2.weight"].shape


def test_background_tests_are_the_three_test_sets_of_the_chapters():
    from reidlib.bias import background_tests

    tests = background_tests("synth-scenes:C")
    assert tests == {"original": {}, "mean background": {"data.test_background": "mean_background"},
                     "random background": {"data.test_background": "random_background",
                                           "data.background_pool": "synth-scenes:C"}}
    assert all(t["data.mask_root"] == "/masks" for t in background_tests(mask_root="/masks").values())
