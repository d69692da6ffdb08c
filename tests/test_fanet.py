"""FA-Net: shapes, the inference path, what each ablation switch changes, and TAL on hand-made tensors."""

import pytest
import torch

from reidlib.data.masks import MaskSource
from reidlib.engine import make_config
from reidlib.losses import target_attention_loss
from reidlib.models.fanet import ABLATION_ROWS, FANetOptions
from reidlib.models.registry import build_model


def model_for(row, k=4, **extra):
    opts = {**ABLATION_ROWS[row], "k": k, **extra}
    cfg = make_config("fanet", "ci", overrides=[f"model.options.{a}={b}" for a, b in opts.items()])
    torch.manual_seed(0)
    return build_model(cfg, num_classes=6, num_cameras=3)


def batch(n=8):
    g = torch.Generator().manual_seed(1)
    return {"image": torch.randn(n, 3, 64, 32, generator=g), "pid": torch.arange(n) % 4, "camid": torch.arange(n) % 3}


def param_prefixes(model):
    return {name.split(".")[0] for name, _ in model.named_parameters()}


def test_shapes_of_the_full_model():
    m = model_for("FA-Net")
    out = m(batch())
    assert out["zf"].shape == (8, 1, 8, 4) and out["F"].shape == out["B"].shape == (8, 128, 8, 4)
    assert len(out["id_logits"]) == len(out["camera_logits"]) == 15  # 1 + 2 + 4 + 8 stripes
    assert out["id_logits"][0].shape == (8, 6) and out["camera_logits"][0].shape == (8, 3)
    assert ((out["zf"] > 0) & (out["zf"] < 1)).all()
    m.eval()
    assert m.embed(batch()).shape == (8, 15 * 256)


def test_background_branch_is_not_on_the_inference_path():
    m = model_for("FA-Net").eval()

    def boom(*_):
        raise AssertionError("the background branch ran at test time")

    m.bg_branch.register_forward_hook(boom)
    m.camera_head.register_forward_hook(boom)
    with torch.no_grad():
        out = m(batch())
    assert "embedding" in out and "B" not in out


def test_each_switch_changes_what_it_names():
    rows = {r: model_for(r) for r in ("B/L", "B/L+TEM", "B/L+TEM+BG", "B/L+TEM+BG+IA", "B/L+TEM+BG+IA+TAL", "FA-Net")}
    parts = {r: param_prefixes(m) for r, m in rows.items()}
    assert parts["B/L"] == {"shared", "fg_branch", "id_head"}
    assert parts["B/L+TEM"] - parts["B/L"] == {"tem"}
    assert parts["B/L+TEM+BG"] - parts["B/L+TEM"] == {"bg_branch", "camera_head"}
    assert parts["B/L+TEM+BG+IA"] == parts["B/L+TEM+BG"]  # IA adds no weights: it gates B by 1 - Zf
    b = batch()
    for r, m in rows.items():
        assert set(m.losses(m(b), b)) == ({"id"} if "BG" not in r and r != "FA-Net" else
                                          {"id", "camera", "tal"} if "TAL" in r or r == "FA-Net" else {"id", "camera"})
    # IA: the camera head sees B * (1 - Zf) instead of B, with identical weights
    bg, ia = rows["B/L+TEM+BG"], rows["B/L+TEM+BG+IA"]
    ia.load_state_dict(bg.state_dict())
    seen = {}
    for name, m in (("bg", bg), ("ia", ia)):
        m.camera_head.register_forward_hook(lambda mod, inp, out, name=name: seen.__setitem__(name, inp[0]))
        out = m(b)
        seen[name + "_expected"] = out["B"] * (1 - out["zf"]) if name == "ia" else out["B"]
    assert torch.allclose(seen["bg"], seen["bg_expected"]) and torch.allclose(seen["ia"], seen["ia_expected"])
    assert not torch.allclose(seen["bg"], seen["ia"])
    # HPP: 15 stripes of 256-d instead of one pooled map
    assert len(rows["FA-Net"](b)["id_logits"]) == 15 and len(rows["B/L+TEM+BG+IA+TAL"](b)["id_logits"]) == 1
    # k: the number of maps TEM averages
    assert model_for("FA-Net", k=7).tem.body[-1].out_channels == 7


def test_inconsistent_switches_are_refused():
    with pytest.raises(ValueError, match="ia .*needs tem and bg"):
        FANetOptions(tem=True, bg=False, ia=True, tal="none")
    with pytest.raises(ValueError, match="tal needs"):
        FANetOptions(tem=True, bg=False, ia=False, tal="full")
    with pytest.raises(ValueError, match="tal must be one of"):
        FANetOptions(tal="v3")


def test_target_attention_loss_on_hand_made_tensors():
    fg = torch.zeros(1, 1, 2, 2)
    fg[0, 0, 0, 0] = 3.0  # all of F's energy in the top-left cell
    bg = torch.zeros(1, 1, 2, 2)
    bg[0, 0, 1, 1] = 4.0  # all of B's energy in the bottom-right cell
    zf = torch.tensor([[[[1.0, 0.0], [0.0, 0.0]]]])  # the mask says: person top-left
    # full: F_l2 = 1 at (0,0) where 1 - Zf = 0, B_l2 = 1 at (1,1) where Zf = 0 -> perfect agreement, loss 0
    assert target_attention_loss(fg, bg, zf, "full").item() == pytest.approx(0.0)
    # swap the mask: both unit responses are penalised: (1 + 1) / 4 cells
    assert target_attention_loss(fg, bg, 1 - zf, "full").item() == pytest.approx(0.5)
    # v2 has no normalisation: (3 + 4) / 4
    assert target_attention_loss(fg, bg, 1 - zf, "v2").item() == pytest.approx(1.75)
    # v1 ignores the mask: mean(F) + mean(B)
    assert target_attention_loss(fg, bg, zf, "v1").item() == pytest.approx(0.75 + 1.0)
    # the normalisation makes the full loss blind to the scale of the features
    assert target_attention_loss(10 * fg, 10 * bg, 1 - zf).item() == pytest.approx(0.5)


def test_fanet_trains_through_the_engine(tmp_path):
    from test_engine import fixed_batch, loss_of, recorded_run

    trainer, res = recorded_run(make_config("fanet", "ci", overrides=[f"output_dir={tmp_path}", "schedule.epochs=1"]))
    assert {"id", "camera", "tal"} <= set(res["history"][0])
    # the epoch lowered the weighted training loss: measured on one batch before and after it
    batch = fixed_batch(trainer)
    start, end = trainer.states["main", "start"], trainer.states["main", "end"]
    assert loss_of(trainer, end, batch) < loss_of(trainer, start, batch)


def test_attention_scores_against_masks(tmp_path):
    import numpy as np

    from reidlib.data.masks import write_label_map
    from reidlib.data.records import Record
    from reidlib.eval.attention import attention_scores, person_grid

    labels = np.zeros((8, 4), np.uint8)
    labels[:, :2] = 2  # the person fills the left half
    assert person_grid(labels, (4, 2)).tolist() == [[True, False]] * 4
    (tmp_path / "q").mkdir()
    write_label_map(tmp_path / "masks" / "q" / "a.png", labels)
    records = [Record(str(tmp_path / "q" / "a.jpg"), 1, 0)]

    class Fixed(torch.nn.Module):
        def __init__(self, zf):
            super().__init__()
            self.zf = zf

        def forward(self, batch):
            return {"zf": self.zf}

    perfect = torch.tensor([[[[1.0, 0.0]] * 4]])
    loader = [{"index": torch.tensor([0]), "image": torch.zeros(1, 3, 8, 4)}]
    s = attention_scores(Fixed(perfect), loader, records, MaskSource(tmp_path))
    assert s["iou"] == 1.0 and s["contrast"] == 1.0
    s = attention_scores(Fixed(1 - perfect), loader, records, MaskSource(tmp_path))
    assert s["iou"] == 0.0 and s["contrast"] == -1.0
    with pytest.raises(KeyError, match="no 'cfa' map"):
        attention_scores(Fixed(perfect), loader, records, MaskSource(tmp_path), key="cfa")
