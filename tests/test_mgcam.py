"""MGCAM: the contrastive attention pair, Eq. 5-7 on hand-made tensors, hard / soft / no attention, the config."""

import numpy as np
import pytest
import torch

from reidlib.engine import make_config
from reidlib.losses import attention_mask_loss, region_triplet_loss, siamese_loss
from reidlib.models.mgcam import ABLATION_ROWS, MGCAM, PAPER_ROWS, MGCAMOptions, overrides
from reidlib.models.mscan import MSCANBody
from reidlib.papers import reported

H, W = 64, 32  # the map after stage 2 is 16 x 8


def model_for(in_channels=4, num_classes=5, **options):
    torch.manual_seed(0)
    body = MSCANBody(in_channels, feature_dim=16, branch_channels=(8, 8, 8, 8), stem_channels=8)
    return MGCAM(body, num_classes, MGCAMOptions(**options))


def person_labels(n=6):
    """(n, H, W) part labels: a person rectangle whose edges fall inside 4x4 cells."""
    labels = torch.zeros(n, H, W, dtype=torch.uint8)
    for i in range(n):
        labels[i, 8 + i:50, 6:22 + i] = 2
        labels[i, 8 + i:16, 6:22 + i] = 1  # a head label: still the person
    return labels


def batch(in_channels=4, n=6):
    g = torch.Generator().manual_seed(1)
    mask = person_labels(n)
    image = torch.randn(n, 3, H, W, generator=g)
    if in_channels == 4:
        image = torch.cat([image, (mask > 0).float()[:, None]], 1)
    return {"image": image, "mask": mask, "pid": torch.tensor([0, 0, 1, 1, 2, 3])[:n]}


def expected_grid(labels, size=(H // 4, W // 4)):
    """By hand: a 4x4 cell is person when at least 8 of its 16 pixels are."""
    fg = (labels > 0).float()
    cells = fg.reshape(len(fg), size[0], 4, size[1], 4).sum((2, 4))
    return (cells >= 8).float()[:, None]


def test_attention_pair_sums_to_one_and_shapes():
    m = model_for()
    out = m(batch())
    phi, inv = out["body_map"], out["background_map"]
    assert phi.shape == inv.shape == (6, 1, 16, 8)
    assert ((phi > 0) & (phi < 1)).all()
    assert torch.equal(phi + inv, torch.ones_like(phi))
    assert out["h_full"].shape == out["h_body"].shape == out["h_bgd"].shape == (6, 16)
    assert [z.shape for z in out["id_logits"]] == [(6, 5)] * 3
    assert m.attention.kernel_size == (3, 3) and m.needs == ("mask",)
    assert model_for(attention_kernel=1).attention.kernel_size == (1, 1)


def test_region_triplet_loss_by_hand():
    h_full = torch.tensor([[0.0, 0.0], [1.0, 1.0]])
    h_body = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    h_bgd = torch.tensor([[3.0, 4.0], [1.0, 2.0]])
    # row 0: pull 1, push max(10 - 25, 0) = 0; row 1: pull 0, push max(10 - 1, 0) = 9; mean 5
    assert region_triplet_loss(h_full, h_body, h_bgd).item() == pytest.approx(5.0)
    # margin 30: row 0 push 5 -> (6 + 29) / 2
    assert region_triplet_loss(h_full, h_body, h_bgd, margin=30.0).item() == pytest.approx(17.5)


def test_siamese_loss_by_hand():
    f = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0], [3.0, 0.0]])
    pids = torch.tensor([0, 0, 1, 2])
    # pairs: (0,1) positive, d2 = 1; negatives (0,2) d2 4 -> 6, (0,3) 9 -> 1, (1,2) 5 -> 5, (1,3) 4 -> 6, (2,3) 13 -> 0
    assert siamese_loss(f, pids, 10.0, "all").item() == pytest.approx((1 + 18) / 6)
    assert siamese_loss(f, pids, 10.0, "balanced").item() == pytest.approx((1 + 18 / 5) / 2)
    # no positive pair: the negative mean alone, (0,1) now costs max(10 - 1, 0) = 9
    assert siamese_loss(f, torch.tensor([0, 1, 2, 3]), 10.0).item() == pytest.approx((9 + 6 + 1 + 5 + 6 + 0) / 6)
    # only positives: the squared distances' mean
    assert siamese_loss(f[:2], pids[:2]).item() == pytest.approx(1.0)
    with pytest.raises(ValueError, match=r"unknown pairs 'hard'; choose one of \('balanced', 'all'\)"):
        siamese_loss(f, pids, 10.0, "hard")  # a ValueError naming the choices, not a NameError


def test_attention_mask_loss_by_hand():
    phi = torch.full((2, 1, 2, 2), 0.5)
    target = torch.tensor([[[[1.0, 0.0], [1.0, 0.0]]], [[[1.0, 1.0], [1.0, 1.0]]]])
    # every cell is 0.5 away: 4 cells x 0.25 per image, summed over the cells (Eq. 5), averaged over the batch
    assert attention_mask_loss(phi, target).item() == pytest.approx(1.0)


def test_rgbm_end_to_end():
    m = model_for(in_channels=4, siamese=True)
    b = batch(4)
    terms = m.losses(m(b), b)
    assert set(terms) == set(m.loss_names) == {"id", "attention", "region_triplet", "siamese"}
    assert all(torch.isfinite(t) and t.dim() == 0 for t in terms.values())
    sum(terms.values()).backward()
    for name in ("attention.weight", "shared.0.0.weight", "streams.full.0.1.branches.0.weight",
                 "streams.body.0.1.branches.0.weight", "streams.background.2.2.weight",
                 "classifiers.background.weight"):
        assert dict(m.named_parameters())[name].grad.abs().sum() > 0, name
    # the attention target is the mask's cover of each cell; a mask-free RGB-M batch gives the same target
    no_mask = {k: v for k, v in b.items() if k != "mask"}
    assert m.losses(m(b), b)["attention"].item() == pytest.approx(m.losses(m(no_mask), no_mask)["attention"].item())
    m.eval()
    assert m.embed(b).shape == (6, 16)


def test_hard_attention_is_the_mask():
    m = model_for(attention="hard")
    b = batch()
    assert m.attention is None and m.needs == ("mask",)
    expected = expected_grid(b["mask"])
    assert 0 < expected.mean() < 1
    seen = {}
    m.streams["body"].register_forward_hook(lambda mod, inp, out: seen.__setitem__("body", inp[0]))
    m.streams["background"].register_forward_hook(lambda mod, inp, out: seen.__setitem__("bgd", inp[0]))
    out = m(b)
    assert torch.equal(out["body_map"], expected)
    f2 = m.shared(b["image"])
    assert torch.allclose(seen["body"], f2 * expected) and torch.allclose(seen["bgd"], f2 * (1 - expected))
    assert set(m.losses(out, b)) == {"id", "region_triplet"}  # nothing to learn in a hard map
    m.eval()
    assert torch.equal(m.attention_map(b), expected) and torch.equal(m(b)["body_map"], expected)


def test_hard_map_scores_perfectly_against_the_masks(tmp_path):
    from reidlib.data.masks import MaskSource, write_label_map
    from reidlib.data.records import Record
    from reidlib.eval.attention import attention_scores

    b = batch()
    records = []
    for i, labels in enumerate(b["mask"]):
        write_label_map(tmp_path / "masks" / f"{i}.png", labels.numpy())
        records.append(Record(str(tmp_path / f"{i}.jpg"), int(b["pid"][i]), 0))
    loader = [{**b, "index": torch.arange(6)}]
    s = attention_scores(model_for(attention="hard").eval(), loader, records, MaskSource(tmp_path), key="body_map")
    assert s["iou"] == 1.0 and s["contrast"] == 1.0 and s["images"] == 6


def test_no_attention_is_plain_mscan_body():
    m = model_for(in_channels=3, attention="none")
    b = batch(3)
    assert {n.split(".")[0] for n, _ in m.named_parameters()} == {"shared", "streams", "classifiers"}
    assert set(m.streams) == set(m.classifiers) == {"full"} and m.needs == ()
    out = m(b)
    assert "body_map" not in out and "h_body" not in out and len(out["id_logits"]) == 1
    assert set(m.losses(out, b)) == {"id"}
    m.eval()
    assert "body_map" not in m(b)
    with pytest.raises(ValueError, match="no attention map"):
        m.attention_map(b)


def test_embedding_is_the_full_stream():
    m = model_for().eval()
    b = batch()

    def boom(*_):
        raise AssertionError("a guiding stream ran at test time")

    m.streams["body"].register_forward_hook(boom)
    m.streams["background"].register_forward_hook(boom)
    with torch.no_grad():
        out = m(b)
        assert torch.equal(out["embedding"], m.streams["full"](m.shared(b["image"])))
    assert out["embedding"].shape == (6, 16) and "body_map" in out


def test_shared_streams_reuse_one_set_of_weights():
    m = model_for(share_streams=True)
    assert set(m.streams) == {"full"} and set(m.classifiers) == {"full", "body", "background"}
    b = batch()
    out = m(b)
    f2 = m.shared(b["image"])
    assert torch.allclose(out["h_body"], m.streams["full"](f2 * out["body_map"]), atol=1e-6)
    n_shared = sum(p.numel() for p in m.parameters())
    assert sum(p.numel() for p in model_for().parameters()) > n_shared


def test_options_are_checked():
    with pytest.raises(ValueError, match="attention must be one of"):
        MGCAMOptions(attention="soft-ish")
    with pytest.raises(ValueError, match="odd"):
        MGCAMOptions(attention_kernel=2)
    with pytest.raises(ValueError, match="siamese_pairs"):
        MGCAMOptions(siamese_pairs="hard")


def test_config_rows_and_reported_numbers():
    from reidlib.models.base import method_options

    for profile in ("ci", "cpu", "gpu"):
        cfg = make_config("mgcam", profile)
        assert cfg.model.backbone == "mscan_body" and cfg.data.rgbm
        assert set(cfg.loss.weights) <= set(MGCAM.loss_names)
        assert cfg.loss.weights == {"id": 1.0, "attention": 0.1, "region_triplet": 0.01, "siamese": 0.0}
        method_options(MGCAMOptions, cfg, "mgcam")
    assert make_config("mgcam", "cpu").data.height == 128
    gpu = make_config("mgcam", "gpu")
    assert (gpu.data.height, gpu.data.width, gpu.data.batch_size, gpu.data.sampler) == (160, 64, 128, "random")
    main, fine = gpu.schedule.stages
    assert (main.loss_weights["siamese"], fine.loss_weights["siamese"], fine.lr) == (0.0, 0.01, 0.001)
    for name, row in ABLATION_ROWS.items():
        for profile in ("ci", "gpu"):
            cfg = make_config("mgcam", profile, overrides=row)
            opts = method_options(MGCAMOptions, cfg, "mgcam")
            weights = [cfg.loss.weights] + [s.loss_weights for s in cfg.schedule.stages]
            assert opts.siamese == any(w.get("siamese") for w in weights), name
        assert make_config("mgcam", "ci", overrides=overrides(name)).to_dict() == \
            make_config("mgcam", "ci", overrides=row).to_dict()
        table, label = PAPER_ROWS[name]
        assert len(reported("mgcam", table, label)) == 2, name
    assert len(reported("mgcam", "2")) == 7 * 2 and len(reported("mgcam", "3")) == 12 * 2
    assert reported("mgcam", "6", "MGCAM-Siamese").set_index(["dataset", "metric"])["value"].to_dict() == {
        ("cuhk03-labeled", "rank1"): 50.14, ("cuhk03-labeled", "mAP"): 50.21,
        ("cuhk03-detected", "rank1"): 46.71, ("cuhk03-detected", "mAP"): 46.87}


def test_mgcam_trains_through_the_engine(tmp_path):
    from test_engine import fixed_batch, loss_of, recorded_run

    cfg = make_config("mgcam", "ci", overrides=[f"output_dir={tmp_path}", "schedule.epochs=1",
                                                *overrides("MGCAM-Siamese RGB-M")])
    trainer, res = recorded_run(cfg)
    assert {"id", "attention", "region_triplet", "siamese"} <= set(res["history"][0])
    assert np.isfinite(res["history"][0]["id"])
    # the epoch lowered the weighted training loss (Siamese term included): measured on one batch
    # before and after it
    batch = fixed_batch(trainer)
    assert cfg.loss.weights["siamese"] > 0
    start, end = trainer.states["main", "start"], trainer.states["main", "end"]
    assert loss_of(trainer, end, batch) < loss_of(trainer, start, batch)
