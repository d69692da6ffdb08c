"""What a module costs: parameters and floating-point operations for one input.

FLOPs are counted by PyTorch's own :class:`torch.utils.flop_counter.FlopCounterMode`
(two per multiply-add); ``conv_macs`` are the convolutions' multiply-adds alone,
the unit in which papers often quote "GFLOPs".
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


@torch.no_grad()
def module_cost(module: nn.Module, *inputs: torch.Tensor) -> dict:
    """``{"parameters", "flops", "conv_macs", "by_op"}`` of ``module(*inputs)`` in eval mode."""
    was_training = module.training
    module.eval()
    try:
        with FlopCounterMode(display=False) as counter:
            module(*inputs)
    finally:
        module.train(was_training)
    by_op = {str(op).split(".")[-1] if "." in str(op) else str(op): int(n)
             for op, n in counter.get_flop_counts()["Global"].items()}
    conv = sum(n for op, n in by_op.items() if "convolution" in op)
    return {"parameters": sum(p.numel() for p in module.parameters()), "flops": int(counter.get_total_flops()),
            "conv_macs": conv // 2, "by_op": by_op}


@torch.no_grad()
def inference_cost(model: nn.Module, batch: dict) -> dict:
    """What the test-time forward pass of a re-ID model uses, per image of ``batch``.

    Only parameters of modules that run in eval mode count: classifiers,
    FA-Net's background branch and FTN's decoder train the network but are
    not part of the deployed model. Returns ``parameters`` (used at
    inference), ``all_parameters``, ``flops`` and ``conv_macs`` per image.
    """
    used: set[nn.Module] = set()
    hooks = [m.register_forward_hook(lambda module, inputs, output: used.add(module)) for m in model.modules()]
    try:
        cost = module_cost(model, batch)
    finally:
        for h in hooks:
            h.remove()
    params = {id(p): p for m in used for p in m.parameters(recurse=False)}
    n = len(batch["image"])
    return {"parameters": sum(p.numel() for p in params.values()), "all_parameters": cost["parameters"],
            "flops": cost["flops"] / n, "conv_macs": cost["conv_macs"] / n}
