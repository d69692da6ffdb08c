"""Losses shared by the methods of the study.

Each is a plain function of tensors, so a method's ``losses`` reads like its
paper's equation. Method-specific losses (TAL, FMN's ranking loss, MGCAM's
region-level triplet, FTN's reconstruction) join this module with their
methods.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def identity_loss(logits: torch.Tensor, pids: torch.Tensor, label_smoothing: float = 0.0) -> torch.Tensor:
    """Cross-entropy over training identities, ``(B, num_classes), (B,) -> ()``, with optional label smoothing."""
    return F.cross_entropy(logits.float(), pids, label_smoothing=label_smoothing)


def batch_hard_triplet(features: torch.Tensor, pids: torch.Tensor, margin: float | None = 0.3) -> torch.Tensor:
    """Batch-hard triplet loss (Hermans et al. 2017), ``(B, D), (B,) -> ()``.

    For each anchor, the farthest positive and the nearest negative in the
    batch (Euclidean distance). ``margin=None`` uses the soft margin
    ``log(1 + exp(d_ap - d_an))``. Anchors without a positive or without a
    negative in the batch are a sampler bug, so they raise.
    """
    features = features.float()
    dist = torch.cdist(features, features).clamp_min(1e-12)
    same = pids[:, None] == pids[None, :]
    eye = torch.eye(len(pids), dtype=torch.bool, device=pids.device)
    positives, negatives = same & ~eye, ~same
    if not bool(positives.any(1).all()) or not bool(negatives.any(1).all()):
        raise ValueError("batch-hard triplet needs every identity of the batch at least twice and at least two "
                         "identities: use the identity sampler (data.sampler: identity, num_instances >= 2)")
    d_ap = dist.masked_fill(~positives, float("-inf")).amax(1)
    d_an = dist.masked_fill(~negatives, float("inf")).amin(1)
    if margin is None:
        return F.softplus(d_ap - d_an).mean()
    return F.relu(d_ap - d_an + margin).mean()
