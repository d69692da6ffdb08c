"""The guided-pooling network: region gates, branches, stages."""

import pytest
import torch

from reidlib.engine import make_config
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


def test_stage_three_trains_the_branches_and_keeps_the_main_network_frozen(tmp_path):
    from test_engine import recorded_run

    cfg = make_config("bgbias", "ci", overrides=[f"output_dir={tmp_path}"])  # one epoch per stage
    # the paper's stages II-IV (002:400-413): main network; branches + fusion with it frozen; all
    assert [(s.name, s.train) for s in cfg.schedule.stages] == [
        ("main", ["main", "main_classifier"]), ("branches", ["branches", "fusion", "classifier"]), ("all", None)]
    trainer, res = recorded_run(cfg)
    assert [h["stage"] for h in res["history"]] == ["main", "branches", "all"]
    assert "id_main" in res["history"][0]
    states = trainer.states
    start = states["branches", "start"]
    main = [k for k in start if k.startswith(("main.", "main_classifier."))]  # parameters and BN statistics
    rest = [k for k in start if k not in main]
    params = [n for n, _ in trainer.model.named_parameters()]
    assert main and rest and all(k.startswith(("branches.", "fusion.", "classifier.")) for k in rest)

    def unchanged(stage, keys):
        return [k for k in keys if torch.equal(states[stage, "start"][k], states[stage, "end"][k])]

    # stage II trains the main network alone
    assert unchanged("main", rest) == rest and unchanged("main", [k for k in main if k in params]) == []
    # stage III starts every branch from the main network that stage II trained...
    copied = [k[len("main."):] for k in start if k.startswith(("main.inception2.", "main.inception3.", "main.head."))]
    assert copied and all(torch.equal(start[f"branches.{i}.{k}"], start[f"main.{k}"])
                          for i in range(3) for k in copied)
    # ...leaves the main network bit for bit as it was, BN running statistics included,
    assert unchanged("branches", main) == main
    # and trains every parameter of the branches, the fusion and its classifier
    assert unchanged("branches", [k for k in rest if k in params]) == []
    # stage IV trains the main network again (not main_classifier: its loss has weight 0 there)
    assert unchanged("all", [k for k in main if k in params and k.startswith("main.")]) == []


def test_background_tests_are_the_three_test_sets_of_the_chapters():
    from reidlib.bias import background_tests

    tests = background_tests("synth-scenes:C")
    assert tests == {"original": {}, "mean background": {"data.test_background": "mean_background"},
                     "random background": {"data.test_background": "random_background",
                                           "data.background_pool": "synth-scenes:C"}}
    assert all(t["data.mask_root"] == "/masks" for t in background_tests(mask_root="/masks").values())
