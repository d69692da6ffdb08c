"""FTN: shapes of every ablation row, the inference path, CFA's cost, the gradient loss and the task split."""

import pytest
import torch
from torch import nn

from reidlib.data.transforms import GaussianWeight
from reidlib.engine import make_config
from reidlib.losses import gradient_loss, reconstruction_l1
from reidlib.models.cost import module_cost
from reidlib.models.ftn import ABLATION_ROWS, PAMCAM, TARGETS, CompactForegroundAttention, FTNOptions, spatial_mask
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
    with pytest.raises(ValueError, match="not staged like a ResNet"):
        build_model(make_config("ftn", "ci", overrides=["model.backbone=mscan_body"]), 6, 3)


def test_cost_counter_against_hand_counts():
    # module_cost, which the cost comparison uses, against counts by formula: a convolution has
    # k * k * C_in / groups weights per output channel and does one multiply-add per weight at each
    # output position; a linear layer one per weight per input row. FLOPs are two per multiply-add.
    conv = nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2)
    h, w = (10 + 2 - 3) // 2 + 1, (8 + 2 - 3) // 2 + 1
    macs = h * w * 6 * (3 * 3 * 4 // 2)
    cost = module_cost(conv, torch.randn(1, 4, 10, 8))
    assert (cost["parameters"], cost["conv_macs"], cost["flops"]) == (6 * 18 + 6, macs, 2 * macs)
    cost = module_cost(nn.Linear(5, 7), torch.randn(3, 5))
    assert (cost["parameters"], cost["conv_macs"], cost["flops"]) == (5 * 7 + 7, 0, 2 * 3 * 5 * 7)
    # two layers with a BN between them (2 parameters per channel, no multiply-adds counted); the
    # counter runs the module in eval mode and gives it back in the mode it found it in
    two = nn.Sequential(nn.Conv2d(3, 8, 1), nn.BatchNorm2d(8), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 4 * 2, 5))
    cost = module_cost(two.train(), torch.randn(2, 3, 4, 2))
    conv_macs, linear_macs = 2 * 4 * 2 * 8 * 3, 2 * 64 * 5  # two images
    assert cost["parameters"] == (3 * 8 + 8) + 2 * 8 + (64 * 5 + 5) and two.training
    assert (cost["conv_macs"], cost["flops"]) == (conv_macs, 2 * (conv_macs + linear_macs))


def test_cfa_cost_is_the_sum_of_its_parts_and_the_papers():
    # Stage 4 of ResNet-50 (layer3 output) at 256x128 with last stride 1: C = 1024 on 16 x 8 positions;
    # CFA works at D = C / 2 after its channel max pooling.
    c, d, n = 1024, 512, 16 * 8
    cfa = CompactForegroundAttention(c)
    cost = module_cost(cfa, torch.randn(1, c, 16, 8))
    parts = [cfa.query, cfa.key, cfa.value, cfa.query_norm, cfa.key_norm, cfa.recover]
    assert cost["parameters"] == sum(p.numel() for m in parts for p in m.parameters()) + cfa.gamma.numel() + \
        cfa.phi.numel()
    # by formula: Q, K, V (1x1, D -> D, bias), BN on Q and K, gamma, phi, BN + 1x1 conv D -> C (bias)
    assert cost["parameters"] == 3 * (d * d + d) + 2 * 2 * d + 2 + 2 * d + (d * c + c)
    # the convolutions' multiply-adds: Q, K, V and the recovering conv at every position; the affinity
    # products (Q K^T, X V: D x D x N each; Q^T K, V S^T: N x N x D each) come on top in FLOPs
    assert cost["conv_macs"] == (3 * d * d + d * c) * n
    assert cost["flops"] == 2 * cost["conv_macs"] + 2 * (2 * d * d * n + 2 * n * n * d)
    # the paper's size of CFA (001:163), at the precision it gives: 1.3 M parameters, 0.168 GFLOPs
    # (its unit is the convolutions' multiply-adds)
    paper = reported("ftn", "cost", "CFA").set_index("metric")["value"]
    assert round(cost["parameters"] / 1e6, 1) == paper["parameters (M)"]
    assert round(cost["conv_macs"] / 1e9, 3) == paper["GFLOPs"]
    # Our PAM-CAM, the comparison module: DANet's layout (Q and K at C/8, V at C, two gammas), by
    # formula. It is our reading of a module whose widths the paper does not give (001:88), so its
    # size does not settle the paper's "83.4 % saving" (001:163) either way.
    pamcam = module_cost(PAMCAM(c), torch.randn(1, c, 16, 8))
    assert pamcam["parameters"] == 2 * (c * (c // 8) + c // 8) + (c * c + c) + 2


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


def test_ftn_trains_both_tasks_through_the_engine(tmp_path):
    from test_engine import fixed_batch, loss_of, recorded_run

    # Without weight decay only the reconstruction batches' gradients move TF-Dec (no other loss reaches it).
    cfg = make_config("ftn", "ci", overrides=[f"output_dir={tmp_path}", "schedule.epochs=1", "optim.weight_decay=0"])
    trainer, res = recorded_run(cfg)
    assert {"id", "triplet", "gradient", "l1"} <= set(res["history"][0])
    start, end = trainer.states["main", "start"], trainer.states["main", "end"]
    batch = fixed_batch(trainer)
    weights = trainer.stages[0].loss_weights
    reid, reconstruction = ({k: weights[k] for k in trainer.model.tasks[t]} for t in ("reid", "reconstruction"))
    # the Re-ID batches lowered the Re-ID loss, measured on one batch before and after the epoch...
    assert loss_of(trainer, end, batch, reid) < loss_of(trainer, start, batch, reid)
    # ...and the reconstruction batches trained TF-Dec: on the trained network, it reconstructs that batch
    # better than the initial TF-Dec does (the backbone's training alone lowers the loss too, so the
    # loss before and after the epoch would not tell)
    initial_decoder = {k: start[k] if k.startswith("decoder.") else v for k, v in end.items()}
    assert any(k.startswith("decoder.") for k in end)
    assert loss_of(trainer, end, batch, reconstruction) < loss_of(trainer, initial_decoder, batch, reconstruction)


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
