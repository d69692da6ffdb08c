"""Optimisers with per-group learning rates, and the warm-up + step-decay schedule."""

from __future__ import annotations

import bisect

import torch
from torch import nn

from .config import OptimConfig


def param_groups(model: nn.Module, cfg: OptimConfig, lr: float) -> list[dict]:
    """Trainable parameters split by learning rate and weight decay.

    Parameters under ``model.pretrained_modules`` (ImageNet-initialised) get
    ``cfg.pretrained_lr_mult`` x ``lr``; with ``bias_weight_decay=False``,
    biases and norm weights (1-D parameters) get no weight decay.
    """
    pretrained = tuple(f"{name}." for name in getattr(model, "pretrained_modules", ()))
    groups: dict[tuple[bool, bool], list] = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        is_pretrained = name.startswith(pretrained) if pretrained else False
        no_decay = not cfg.bias_weight_decay and p.ndim <= 1
        groups.setdefault((is_pretrained, no_decay), []).append(p)
    if not groups:
        raise ValueError("no trainable parameters: check the stage's `train` list")
    return [{"params": params, "lr": lr * (cfg.pretrained_lr_mult if is_pre else 1.0),
             "weight_decay": 0.0 if no_decay else cfg.weight_decay, "name": f"{'pretrained' if is_pre else 'new'}"
             f"{'-no-decay' if no_decay else ''}"}
            for (is_pre, no_decay), params in sorted(groups.items())]


def build_optimizer(model: nn.Module, cfg: OptimConfig, lr: float) -> torch.optim.Optimizer:
    groups = param_groups(model, cfg, lr)
    if cfg.name == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=cfg.momentum, nesterov=cfg.nesterov)
    if cfg.name == "adam":
        return torch.optim.Adam(groups, lr=lr, betas=cfg.betas)
    raise ValueError(f"unknown optimiser {cfg.name!r}; choose 'sgd' or 'adam'")


def lr_factor(epoch: int, warmup_epochs: int, warmup_factor: float, milestones: list[int], gamma: float) -> float:
    """Learning-rate multiplier of ``epoch`` (0-based): linear warm-up, then ``gamma`` at each milestone."""
    if epoch < warmup_epochs:
        return warmup_factor + (1.0 - warmup_factor) * epoch / warmup_epochs
    return gamma ** bisect.bisect_right(sorted(milestones), epoch)


def build_scheduler(optimizer, warmup_epochs: int, warmup_factor: float, milestones: list[int], gamma: float):
    """A per-epoch LambdaLR with :func:`lr_factor`."""
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda e: lr_factor(e, warmup_epochs, warmup_factor, milestones, gamma))
