"""FMN: the mask on each masked layer, the two-stage training, the ranking loss and the descriptor."""

import pytest
import torch

from reidlib.losses import ranking_loss, true_class_probability
from reidlib.models.fmn import ABLATION_ROWS, FMN, FMNOptions
from reidlib.models.resnet import resnet_small
from reidlib.papers import reported

SIZE = (64, 32)
WIDTHS = (16, 32, 64, 128)
STAGES = ("stem", "layer1", "layer2", "layer3", "layer4")


def small_fmn(num_classes=4, **options):
    torch.manual_seed(0)
    return FMN(resnet_small(widths=WIDTHS), num_classes, FMNOptions(**options), input_size=SIZE)


def batch(n=8, classes=4):
    g = torch.Generator().manual_seed(1)
    return {"image": torch.randn(n, 3, *SIZE, generator=g), "pid": torch.arange(n) % classes}


def snapshot(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def same(a, b):
    return all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("layer,index", [("pool1", 0), ("res2", 1), ("res3", 2), ("res4", 3)])
def test_mask_is_positive_and_has_the_masked_maps_size(layer, index):
    m = small_fmn(masked_layer=layer)
    with torch.no_grad():
        m.mixing.fc.weight.normal_(std=0.3)  # a mask that is not all ones
        maps = m.grn.backbone.eval().forward_stages(batch()["image"])
        out = m.eval()(batch())
    assert out["mask"].shape == (8, 1, *maps[index].shape[2:])
    assert (out["mask"] >= 1).all() and (out["mask"] > 1).any()  # exp(relu(.)) >= 1
    norm = out["mask_normalised"]
    assert norm.shape == out["mask"].shape and (norm > 0).all() and (norm <= 1).all()
    assert torch.allclose(norm.amax((2, 3)), torch.ones(8, 1))
    assert m.mixing.fc.in_features == 128 and m.mixing.fc.out_features == maps[index].shape[2] * maps[index].shape[3]
    assert len(m.lan.layers) == 4 - index  # the stages after the masked map
    assert out["embedding"].shape == (8, 2 * 128)


def test_a_fresh_mask_is_close_to_one_and_other_input_sizes_are_refused():
    m = small_fmn().eval()
    with torch.no_grad():
        mask = m(batch())["mask"]
        assert torch.allclose(mask, torch.ones_like(mask), atol=0.05)
        with pytest.raises(ValueError, match="built for 64x32"):
            m({"image": torch.randn(2, 3, 32, 32)})
    with pytest.raises(ValueError, match="masked_layer"):
        FMNOptions(masked_layer="res5")


def test_lan_starts_as_a_copy_of_the_later_grn_stages():
    for layer, index in (("pool1", 0), ("res3", 2)):
        m = small_fmn(masked_layer=layer)
        for copy, name in zip(m.lan.layers, STAGES[index + 1:]):
            original = getattr(m.grn.backbone, name)
            assert same(snapshot(copy), snapshot(original))
            assert all(p.data_ptr() != q.data_ptr() for p, q in zip(copy.parameters(), original.parameters()))


def test_lan_and_rank_losses_do_not_reach_the_grn():
    m = small_fmn().train()
    b = batch()
    terms = m.losses(m(b), b)
    assert set(terms) == {"id_grn", "id_lan", "rank"}
    (terms["id_lan"] + terms["rank"]).backward()
    assert all(p.grad is None for p in m.grn.parameters())
    assert m.mixing.fc.weight.grad is not None and all(p.grad is not None for p in m.lan.parameters())


def test_ranking_loss_on_hand_made_probabilities():
    p_g = torch.tensor([0.6, 0.2, 0.5])
    p_l = torch.tensor([0.5, 0.9, 0.5])
    # max(0, pG - pL + m): 0.15, 0 (LAN ahead by more than m), 0.05 (a tie still costs m)
    assert ranking_loss(p_g, p_l, 0.05).item() == pytest.approx((0.15 + 0.0 + 0.05) / 3)
    assert ranking_loss(p_g, p_l, 0.0).item() == pytest.approx(0.1 / 3)
    logits = torch.log(torch.tensor([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]]))
    assert torch.allclose(true_class_probability(logits, torch.tensor([0, 1])), torch.tensor([0.7, 0.1]))
    p_g.requires_grad_(True)
    p_l.requires_grad_(True)
    ranking_loss(p_g, p_l).backward()
    assert p_g.grad is None and torch.allclose(p_l.grad, torch.tensor([-1.0, 0.0, -1.0]) / 3)


def test_descriptor_weighting():
    b = batch()
    out = small_fmn().eval()(b)
    g = out["grn_feature"] / out["grn_feature"].norm(dim=1, keepdim=True)
    l = out["lan_feature"] / out["lan_feature"].norm(dim=1, keepdim=True)
    assert torch.allclose(out["embedding"], torch.cat([0.5 * g, 0.5 * l], 1), atol=1e-6)
    only_g = small_fmn(alpha=1.0).eval()(b)["embedding"]
    assert torch.allclose(only_g[:, :128], g, atol=1e-6) and (only_g[:, 128:] == 0).all()
    for row, part in (("GRN", g), ("LAN", l)):
        assert torch.allclose(small_fmn(**ABLATION_ROWS[row]).eval()(b)["embedding"], part, atol=1e-6)


def test_ablation_rows_build_and_paper_rows_are_transcribed():
    for opts in ABLATION_ROWS.values():
        FMNOptions(**opts)
    assert set(reported("fmn", "5")["row"]) == {"Pool1", "Res2", "Res3", "Res4"}
    t1 = reported("fmn", "1").set_index(["row", "dataset", "metric"])["value"]
    assert len(t1) == 3 * 4 * 4
    assert t1["FMN", "market1501", "rank1"] == reported("fmn", "5", "Pool1").set_index("metric")["value"]["rank1"]
    # the text's gains of FMN over GRN (004:231): rank-1 6.66 / 6.60 / 4.57 / 6.35, mAP 8.62 / 8.48 / 5.53 / 7.91
    for d, r1, ap in zip(("market1501", "dukemtmc", "cuhk03-detected", "cuhk03-labeled"),
                         (6.66, 6.60, 4.57, 6.35), (8.62, 8.48, 5.53, 7.91)):
        assert t1["FMN", d, "rank1"] - t1["GRN", d, "rank1"] == pytest.approx(r1)
        assert t1["FMN", d, "mAP"] - t1["GRN", d, "mAP"] == pytest.approx(ap)


def test_the_trainer_trains_the_grn_then_mn_and_lan_with_the_grn_fixed(tmp_path):
    from test_engine import fixed_batch, loss_of, recorded_run

    from reidlib.engine import make_config

    cfg = make_config("fmn", "ci", overrides=[f"output_dir={tmp_path}"])  # one epoch per stage
    # Algorithm 1 (004:100-114): the GRN alone with cross-entropy, then MN + LAN with the GRN fixed
    assert [(s.name, s.train) for s in cfg.schedule.stages] == [("grn", ["grn"]), ("mn_lan", ["mixing", "lan"])]
    trainer, res = recorded_run(cfg)
    assert [h["stage"] for h in res["history"]] == ["grn", "mn_lan"]
    assert "id_lan" not in res["history"][0]  # MN and LAN are fixed, so they do not run
    assert {"id_grn", "id_lan", "rank"} <= set(res["history"][1])
    states = trainer.states

    def entries(part):  # parameters and BN statistics
        return [k for k in states["grn", "start"] if k.startswith(part + ".")]

    def unchanged(stage, keys):
        return [k for k in keys if torch.equal(states[stage, "start"][k], states[stage, "end"][k])]

    grn, local = entries("grn"), entries("mixing") + entries("lan")
    assert grn and local and len(grn) + len(local) == len(states["grn", "start"])
    params = {n for n, _ in trainer.model.named_parameters()}
    # stage 1 trains every GRN parameter and leaves MN and LAN bit for bit as they were...
    assert unchanged("grn", [k for k in grn if k in params]) == [] and unchanged("grn", local) == local
    # ...stage 2 the opposite: the GRN, BN running statistics included, stays fixed
    assert unchanged("mn_lan", grn) == grn and unchanged("mn_lan", [k for k in local if k in params]) == []
    # and each stage lowers its own loss, measured on one batch before and after it
    batch = fixed_batch(trainer)
    for stage in trainer.stages:
        before, after = (loss_of(trainer, states[stage.name, s], batch, stage.loss_weights) for s in ("start", "end"))
        assert after < before, stage.name


def test_activation_maps_have_each_networks_last_map_size_and_peak_at_one():
    model = small_fmn().eval()
    maps = model.activation_maps(batch()["image"])
    assert set(maps) == {"grn", "lan"}
    for m in maps.values():
        assert m.shape == (8, 8, 4)  # 64 x 32 input, stride 8 (resnet_small, last stride 1)
        assert torch.allclose(m.flatten(1).amax(1), torch.ones(8)) and (m >= 0).all()
    # LAN sees the masked map: a different mask changes LAN's map, not GRN's
    with torch.no_grad():
        model.mixing.fc.weight.normal_(std=0.5)
    changed = model.activation_maps(batch()["image"])
    assert torch.equal(changed["grn"], maps["grn"]) and not torch.allclose(changed["lan"], maps["lan"])
