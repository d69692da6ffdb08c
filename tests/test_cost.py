"""Inference cost counts only what the test-time forward pass runs."""

import torch
from torch import nn

from reidlib.models.cost import inference_cost


class TwoHeads(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Linear(4, 3)  # 15 parameters, used at test time
        self.classifier = nn.Linear(3, 10)  # 40 parameters, training only

    def forward(self, batch):
        f = self.body(batch["image"])
        return {"embedding": f} if not self.training else {"logits": self.classifier(f)}


def test_inference_cost_leaves_out_modules_that_do_not_run_in_eval():
    cost = inference_cost(TwoHeads(), {"image": torch.randn(5, 4)})
    assert cost["parameters"] == 15 and cost["all_parameters"] == 55
    assert cost["flops"] == 2 * 4 * 3  # one multiply-add per weight, per image


def test_fanet_background_branch_is_not_counted_at_inference():
    from reidlib.engine import make_config
    from reidlib.models.registry import build_model

    cfg = make_config("fanet", "ci")
    model = build_model(cfg, num_classes=6, num_cameras=3)
    cost = inference_cost(model, {"image": torch.randn(2, 3, cfg.data.height, cfg.data.width)})
    background = sum(p.numel() for n, p in model.named_parameters() if n.startswith(("bg_branch", "camera_head")))
    assert background > 0 and cost["parameters"] <= cost["all_parameters"] - background
