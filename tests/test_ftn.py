"""FTN: shapes of every ablation row, the inference path, CFA's size, the gradient loss and the task split."""

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from reidlib.data.transforms import GaussianWeight
from reidlib.engine import make_config, train
from reidlib.losses import gradient_loss, reconstruction_l1
from reidlib.models.ftn import (ABLATION_ROWS, PAMCAM, TARGETS, CompactForegroundAttention, FTNOptions,
                                spatial_mask)
from reidlib.models.registry import build_model
from reidlib.papers import reported

TABLE1 = [r for r in ABLATION_ROWS if not r.startswith("(")]
TABLE2 = [r for r in ABLATION_ROWS if r.startswith("(")]


def model_for(row, **extra):
    opts = {**ABLATION_ROWS[row], **extra}
    cfg = make_config("ftn", "ci", overrides=[f"model.options.{a}={b}" for a, b in opts.items()])
    torch.manual_seed(0)
    return build_model(cfg, num_classes=6, num_cameras=3)


def batch(n=8, task=None):
    g = torch.Generator().manual_seed(1)
    b = {"image": torch.randn(n, 3, 64, 32, generator=g), "pid": torch.arange(n) % 4}
    if task is not None:
        b["task"] = task
    return b


@pytest.mark.parametrize("row", list(ABLATION_ROWS))
def test_shapes_of_every_row(row):
    # ci: resnet_small at width 0.5, 64x32 input: stage 4 (layer3) is (64, 8, 4), stage 5 (128, 8, 4)
    opts = ABLATION_ROWS[row]
    m = model_for(row)
    out = m(batch())
    has_att = opts["attention"] != "none"
    dims = ([64] if has_att else []) + [128, 128]
    assert [tuple(f.shape) for f in out["features"]] == [(8, d) for d in dims]
    assert [tuple(z.shape) for z in out["logits"]] == [(8, 6)] * len(dims)
    cfa = opts["attention"] == "cfa"
    assert ("pa_mask" in out) == (cfa and opts["use_pa"]) and ("ca_mask" in out) == (cfa and opts["use_ca"])
    for key in ("pa_mask", "ca_mask", "cfa"):
        if key in out:
            assert out[key].shape == (8, 1, 8, 4) and out[key].min() >= 0 and out[key].max() <= 1
    if opts["decoder"]:
        assert out["reconstruction"].shape == out["target"].shape == (8, 3, 64, 32)
        assert m.decoder.num_up == 3  # stage 4 of resnet_small is at stride 8
    else:
        assert m.decoder is None and "reconstruction" not in out and set(m.tasks) == {"reid"}
    m.eval()
    with torch.no_grad():
        assert m.embed(batch()).shape == (8, sum(dims))


def test_each_switch_changes_what_it_names():
    rows = {r: model_for(r) for r in TABLE1}
    assert rows["Base."].attention is None
    assert isinstance(rows["Base. + PAM-CAM"].attention, PAMCAM)
    full = rows["Base. + CFA"].attention
    assert full.dim == 32 and full.reduce is None and full.gamma is not None and full.phi is not None
    assert rows["Base. + CFA w/o PA"].attention.phi is None
    assert rows["Base. + CFA w/o CA"].attention.gamma is None
    no_cmp = rows["Base. + CFA w/o CMP"].attention
    assert no_cmp.dim == 32 and isinstance(no_cmp.reduce, torch.nn.Conv2d)  # a 1x1 conv replaces CMP (001:92)
    assert model_for("Base. + CFA w/o CMP", reduce_without_cmp="none").attention.dim == 64
    # CMP: the max over each pair of neighbouring channels
    a = torch.arange(2 * 4 * 1 * 1.0).view(2, 4, 1, 1)
    assert full.compact(torch.cat([a] * 16, 1)[:, :64]).flatten(1)[:, :2].tolist() == [[1.0, 3.0], [5.0, 7.0]]
    # gamma and phi start at 0: CFA's output is then the recover layer applied to B alone
    x = torch.randn(2, 64, 8, 4)
    full.eval()
    assert torch.allclose(full(x)["out"], full.recover(full.compact(x)), atol=1e-6)
    # the targets: (d) uses PAm only, (e) CAm only, (b) nothing, (c) the Gaussian only
    b = batch()
    for row in ("(b)", "(c)", "(d)", "(e)", "(g)"):
        m = model_for(row)
        out = m(b)
        gauss, pam, cam = TARGETS[ABLATION_ROWS[row]["target"]]
        w = GaussianWeight.weight(64, 32, 0.5) if gauss else torch.ones(64, 32)
        for used, key in ((pam, "pa_mask"), (cam, "ca_mask")):
            if used:
                w = w * torch.nn.functional.interpolate(out[key], size=(64, 32), mode="bilinear", align_corners=False)
        assert torch.allclose(out["target"], b["image"] * w, atol=1e-6), row
        assert not out["target"].requires_grad  # the masks are detached: the target is a ground truth


def test_spatial_mask_is_the_normalised_channel_energy():
    maps = torch.tensor([[[0.0, 1.0, 2.0, -3.0], [0.0, 1.0, 0.0, 1.0]]])  # (B=1, D=2, N=4)
    # mean of squares per position: 0, 1, 2, 5 -> min-max -> 0, 0.2, 0.4, 1
    assert spatial_mask(maps, (2, 2)).flatten().tolist() == pytest.approx([0.0, 0.2, 0.4, 1.0])


def test_decoder_is_not_on_the_inference_path():
    m = model_for("(g)")

    def boom(*_):
        raise AssertionError("TF-Dec ran where it should not")

    hook = m.decoder.register_forward_hook(boom)
    m.eval()
    with torch.no_grad():
        out = m(batch(task="reconstruction"))  # eval mode ignores the task
    assert "embedding" in out and "reconstruction" not in out and out["cfa"].shape == (8, 1, 8, 4)
    m.train()
    out = m(batch(task="reid"))  # a Re-ID batch does not run the decoder either
    assert "logits" in out and "reconstruction" not in out
    hook.remove()
    for module in (m.backbone.layer4, m.local_block, m.necks):  # a reconstruction batch skips stage 5 and the heads
        module.register_forward_hook(boom)
    out = m(batch(task="reconstruction"))
    assert "reconstruction" in out and "logits" not in out


def test_per_task_loss_terms_and_where_their_gradients_go():
    m = model_for("(g)")
    for task, names in (("reid", {"id", "triplet"}), ("reconstruction", {"gradient", "l1"}),
                        (None, {"id", "triplet", "gradient", "l1"})):
        b = batch(task=task)
        terms = m.losses(m(b), b, task)
        assert set(terms) == names, task
        assert all(v.dim() == 0 and torch.isfinite(v) for v in terms.values())
    # reconstruction gradients reach CFA (TF-Dec decodes its output) and the backbone, not the heads
    m.zero_grad()
    b = batch(task="reconstruction")
    sum(m.losses(m(b), b, "reconstruction").values()).backward()
    att = m.attention  # (V itself gets no gradient yet: gamma = phi = 0 at the start)
    assert att.recover[1].weight.grad.abs().sum() > 0 and att.gamma.grad.abs() > 0 and att.phi.grad.abs() > 0
    assert m.backbone.layer3[0].conv1.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in m.classifiers.parameters())
    f = model_for("(f)")
    b = batch(task="reconstruction")
    assert set(f.losses(f(b), b, "reconstruction")) == {"l1"}  # (f): no gradient loss
    base = model_for("Base. + CFA")
    with pytest.raises(ValueError, match="without a decoder"):
        base(batch(task="reconstruction"))


def test_inconsistent_options_are_refused():
    with pytest.raises(ValueError, match="target \\(a\\) trains TF-Dec without CFA"):
        FTNOptions(attention="cfa", target="a")
    with pytest.raises(ValueError, match="without attention use \\(a\\)"):
        FTNOptions(attention="none", target="c")
    with pytest.raises(ValueError, match="needs attention: cfa"):
        FTNOptions(attention="pamcam", target="d")
    with pytest.raises(ValueError, match="needs use_pa"):
        FTNOptions(use_pa=False, target="g")
    with pytest.raises(ValueError, match="row \\(f\\)"):
        FTNOptions(target="g", gradient_loss=False)
    with pytest.raises(ValueError, match="needs use_pa or use_ca"):
        FTNOptions(use_pa=False, use_ca=False, decoder=False)
    FTNOptions(use_pa=False, decoder=False)  # without TF-Dec the target is not used
    with pytest.raises(ValueError, match="not a ResNet"):
        build_model(make_config("ftn", "ci", overrides=["model.backbone=mscan_body"]), 6, 3)


def test_cfa_size_at_resnet50_scale():
    # Stage 4 of ResNet-50 (layer3 output) at 256x128 with last stride 1: 1024 x 16 x 8, N = 128.
    cfa = CompactForegroundAttention(1024).eval()
    # By hand, D = 1024 / 2 = 512:
    #   Q, K, V 1x1 convs D -> D with bias   3 * (512 * 512 + 512) = 787,968
    #   BN on Q and K (weight + bias)        2 * 2 * 512           =   2,048
    #   gamma, phi                                                  =       2
    #   recover BN(512)                      2 * 512               =   1,024
    #   recover 1x1 conv 512 -> 1024 + bias  512 * 1024 + 1024     = 525,312
    #   total                                                       = 1,316,354
    # The paper says "1.3 million parameters" (001:163): it matches.
    assert sum(p.numel() for p in cfa.parameters()) == 1_316_354
    # DANet's PAM + CAM on the same map: Q, K 1024 -> 128 and V 1024 -> 1024 with bias, two gammas:
    # 2 * (1024 * 128 + 128) + 1024 * 1024 + 1024 + 2 = 1,312,002 -- not 83.4 % more than CFA (001:163).
    assert sum(p.numel() for p in PAMCAM(1024).parameters()) == 1_312_002
    x = torch.randn(1, 1024, 16, 8)
    with FlopCounterMode(display=False) as fc, torch.no_grad():
        out = cfa(x)
    assert out["out"].shape == x.shape and out["pa_mask"].shape == out["ca_mask"].shape == (1, 1, 16, 8)
    counts = {str(k): v for k, v in fc.get_flop_counts()["Global"].items()}
    # Convolutions: (3 * 512 * 512 + 512 * 1024) * 128 positions = 167,772,160 multiply-adds, the paper's
    # "0.168 GFLOPs"; FlopCounterMode counts 2 FLOPs per multiply-add and adds the affinity products:
    # (2 * 512 * 512 * 128 + 2 * 128 * 128 * 512) * 2 = 167,772,160.
    assert counts["aten.convolution"] == 2 * 167_772_160
    assert counts["aten.bmm"] == 167_772_160


def test_gradient_loss_on_hand_made_tensors():
    pred = torch.zeros(1, 3, 2, 2)
    pred[0, 0] = torch.tensor([[0.0, 1.0], [2.0, 4.0]])
    target = torch.zeros(1, 3, 2, 2)
    # horizontal differences of channel 0: 1 - 0 = 1, 4 - 2 = 2 -> L1 3 over 1*3*2*1 = 6 entries
    # vertical differences of channel 0:   2 - 0 = 2, 4 - 1 = 3 -> L1 5 over 1*3*1*2 = 6 entries
    assert gradient_loss(pred, target).item() == pytest.approx(3 / 6 + 5 / 6)
    assert gradient_loss(pred, target, reduction="sum").item() == pytest.approx(8.0)
    assert gradient_loss(pred + 7.0, pred).item() == 0.0  # a constant offset has no gradient
    # a direct computation on a random batch, straight from Eq. 2-4 with |.| per difference
    g = torch.Generator().manual_seed(0)
    p, t = torch.randn(2, 3, 4, 5, generator=g), torch.randn(2, 3, 4, 5, generator=g)
    h = v = 0.0
    for b in range(2):
        for c in range(3):
            for y in range(4):
                for x in range(5):
                    if x + 1 < 5:
                        h += abs((p[b, c, y, x + 1] - p[b, c, y, x]) - (t[b, c, y, x + 1] - t[b, c, y, x])).item()
                    if y + 1 < 4:
                        v += abs((p[b, c, y + 1, x] - p[b, c, y, x]) - (t[b, c, y + 1, x] - t[b, c, y, x])).item()
    assert gradient_loss(p, t, reduction="sum").item() == pytest.approx((h + v) / 2, rel=1e-5)
    assert gradient_loss(p, t).item() == pytest.approx(h / (2 * 3 * 4 * 4) + v / (2 * 3 * 3 * 5), rel=1e-5)
    assert reconstruction_l1(p, t).item() == pytest.approx((p - t).abs().mean().item())
    with pytest.raises(ValueError, match="one shape"):
        gradient_loss(p, t[:, :, :3])


def test_config_and_reported_numbers():
    cfg = make_config("ftn", "gpu")
    assert [s.name for s in cfg.schedule.stages] == ["warmup", "main"]
    assert cfg.schedule.stages[1].alternate == ["reid", "reid", "reconstruction"]
    assert (cfg.data.height, cfg.data.width, cfg.data.batch_size, cfg.optim.lr) == (256, 128, 32, 3.5e-4)
    # every submodule the warm-up trains exists in the model
    names = {n for n, _ in model_for("(g)").named_children()}
    assert set(cfg.schedule.stages[0].train) <= names
    # Table 2's row (g) is Table 3's FTN
    g = reported("ftn", "2", "(g)").set_index(["dataset", "metric"])["value"]
    ftn = reported("ftn", "3", "FTN").set_index(["dataset", "metric"])["value"]
    assert len(ftn) == 8 and all(ftn[k] == v for k, v in g.items())
    assert len(reported("ftn", "1")) == 6 * 4 and len(reported("ftn", "2")) == 7 * 4


def test_ftn_trains_through_the_engine(tmp_path):
    res = train(make_config("ftn", "ci", overrides=[f"output_dir={tmp_path}", "schedule.epochs=1"]))
    assert {"id", "triplet", "gradient", "l1"} <= set(res["history"][0]) and 0 <= res["mAP"] <= 1


def test_inspect_gives_the_maps_and_reconstructions_for_pictures():
    from reidlib.engine import make_config
    from reidlib.models.ftn import ABLATION_ROWS
    from reidlib.models.registry import build_model

    cfg = make_config("ftn", "ci", overrides=[f"model.options.{k}={v}" for k, v in ABLATION_ROWS["(g)"].items()])
    model = build_model(cfg, 5, 2).eval()
    maps = model.inspect(torch.randn(2, 3, 64, 32))
    assert maps["reconstruction"].shape == maps["target"].shape == (2, 3, 64, 32)
    assert maps["cfa"].shape == maps["stage3"].shape[:1] + maps["cfa"].shape[1:] and maps["cfa"].min() >= 0
    assert {"stage3", "cfa_features", "global", "local"} <= set(maps)
