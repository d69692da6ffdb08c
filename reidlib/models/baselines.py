"""The papers' baselines: a backbone, pooling, a BN neck and an identity classifier.

- :class:`IDE` (the ID-discriminative embedding of "Person Re-identification:
  Past, Present and Future", Zheng, Yang and Hauptmann, arXiv:1610.02984, 2016):
  global average pooling and a classifier trained with cross-entropy, optionally
  with a batch-hard triplet loss on the pooled feature and a BN neck between
  the two ("Bag of Tricks and a Strong Baseline for Deep Person
  Re-identification", Luo, Gu, Liao, Lai and Jiang, CVPR workshops 2019: the
  ``bot`` method). With a ResNet-50 it is the baseline of FA-Net and
  FMN; on MSCAN-body it is MGCAM's baseline; on the Inception-style network
  it is the DGD-style baseline of the background-bias paper.
- :class:`GlobalLocal`: FTN's baseline, a global branch (average pooling)
  and a local branch (one extra bottleneck block, max pooling) trained with
  cross-entropy on each and batch-hard triplet.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models.resnet import Bottleneck

from ..losses import batch_hard_triplet, identity_loss
from .backbones import backbone_from_config
from .base import NoOptions, ReIDModel, method_options


def _init_classifier(layer: nn.Linear) -> None:
    nn.init.normal_(layer.weight, std=0.001)
    if layer.bias is not None:
        nn.init.zeros_(layer.bias)


class BNNeck(nn.Module):
    """BatchNorm before the classifier (its bias frozen at 0): ``(B, D) -> (B, D)``."""

    def __init__(self, dim: int):
        super().__init__()
        self.bn = nn.BatchNorm1d(dim)
        self.bn.bias.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(x)


class IDE(ReIDModel):
    """Backbone + global average pooling [+ embedding] [+ BN neck] + classifier.

    Args:
        backbone: maps (B, C, H, W) images to a (B, D, h, w) map (ResNets) or
            a (B, D) vector (MSCAN-body, the Inception-style net); it needs
            ``out_channels`` or ``out_dim``.
        num_classes: training identities.
        embed_dim: if > 0, a Linear + BN + ReLU layer to this size after pooling.
        neck: ``"bnneck"`` (BoT: triplet on the pooled feature, cross-entropy
            and testing on its batch-normalised copy) or ``"none"``.
        dropout: before the classifier.
        label_smoothing, triplet_margin: loss settings (margin ``None`` = soft).
        use_triplet: compute the triplet term at all. Its builder sets it from
            ``loss.weights.triplet``: an unweighed triplet would only be logged,
            and on random batches (MSCAN-body, DGD and FMN's GRN at the ``gpu``
            profile) it is undefined, since an identity may appear once.

    Outputs: ``feature`` (B, D) (triplet), ``logits`` (B, num_classes), and in
    eval mode ``embedding`` (B, D).
    """

    loss_names = ("id", "triplet")

    def __init__(self, backbone: nn.Module, num_classes: int, embed_dim: int = 0, neck: str = "bnneck",
                 dropout: float = 0.0, label_smoothing: float = 0.0, triplet_margin: float | None = 0.3,
                 pretrained: bool = False, use_triplet: bool = True):
        super().__init__()
        if neck not in ("bnneck", "none"):
            raise ValueError(f"unknown neck {neck!r}; choose 'bnneck' or 'none'")
        self.backbone = backbone
        dim = getattr(backbone, "out_channels", None) or backbone.out_dim
        self.embedding = None
        if embed_dim > 0:
            self.embedding = nn.Sequential(nn.Linear(dim, embed_dim), nn.BatchNorm1d(embed_dim), nn.ReLU(inplace=True))
            dim = embed_dim
        self.neck = BNNeck(dim) if neck == "bnneck" else nn.Identity()
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(dim, num_classes, bias=neck == "none")
        _init_classifier(self.classifier)
        self.out_dim = dim
        self.label_smoothing = label_smoothing
        self.triplet_margin = triplet_margin
        self.use_triplet = use_triplet
        self.pretrained_modules = ("backbone",) if pretrained else ()

    @classmethod
    def from_config(cls, config, num_classes: int, num_cameras: int) -> IDE:
        method_options(NoOptions, config, config.method)
        m = config.model
        return cls(backbone_from_config(config), num_classes, m.embed_dim, m.neck, m.dropout,
                   config.loss.label_smoothing, config.loss.triplet_margin, pretrained=bool(m.pretrained),
                   use_triplet=bool(config.loss.weights.get("triplet", 0.0)))

    def forward(self, batch: dict) -> dict[str, torch.Tensor]:
        x = self.backbone(batch["image"])
        feature = x.mean((2, 3)) if x.dim() == 4 else x
        if self.embedding is not None:
            feature = self.embedding(feature)
        normed = self.neck(feature)
        out = {"feature": feature}
        if self.training:
            out["logits"] = self.classifier(self.dropout(normed))
        else:
            out["embedding"] = normed
        return out

    def losses(self, outputs: dict, batch: dict, task: str | None = None) -> dict[str, torch.Tensor]:
        pids = batch["pid"]
        terms = {"id": identity_loss(outputs["logits"], pids, self.label_smoothing)}
        if self.use_triplet:
            terms["triplet"] = batch_hard_triplet(outputs["feature"], pids, self.triplet_margin)
        return terms


class GlobalLocal(ReIDModel):
    """FTN's baseline: a global branch and a local branch on the last backbone map.

    The global branch average-pools the backbone map; the local branch runs
    one more ResNet bottleneck block (its own weights) on the same map and
    max-pools it, so it keeps the strongest local responses. Each branch
    has a BN neck and its own classifier. Losses: ``id_global``,
    ``id_local`` (cross-entropy) and ``triplet`` (batch-hard, averaged over
    the two pooled features). The test embedding concatenates the two
    normalised features, (B, 2 * C).
    """

    loss_names = ("id_global", "id_local", "triplet")

    def __init__(self, backbone: nn.Module, num_classes: int, label_smoothing: float = 0.0,
                 triplet_margin: float | None = 0.3, pretrained: bool = False):
        super().__init__()
        self.backbone = backbone
        channels = backbone.out_channels
        down = None  # Bottleneck expands by 4: planes = channels / 4 keeps the width
        self.local_block = Bottleneck(channels, channels // 4, downsample=down)
        self.necks = nn.ModuleList([BNNeck(channels), BNNeck(channels)])
        self.classifiers = nn.ModuleList([nn.Linear(channels, num_classes, bias=False) for _ in range(2)])
        for layer in self.classifiers:
            _init_classifier(layer)
        self.out_dim = 2 * channels
        self.label_smoothing = label_smoothing
        self.triplet_margin = triplet_margin
        self.pretrained_modules = ("backbone",) if pretrained else ()

    @classmethod
    def from_config(cls, config, num_classes: int, num_cameras: int) -> GlobalLocal:
        method_options(NoOptions, config, config.method)
        return cls(backbone_from_config(config), num_classes, config.loss.label_smoothing,
                   config.loss.triplet_margin, pretrained=bool(config.model.pretrained))

    def forward(self, batch: dict) -> dict[str, torch.Tensor]:
        x = self.backbone(batch["image"])  # (B, C, h, w)
        features = [x.mean((2, 3)), self.local_block(x).amax((2, 3))]  # global, local: (B, C) each
        normed = [neck(f) for neck, f in zip(self.necks, features)]
        out = {"features": features}
        if self.training:
            out["logits"] = [clf(f) for clf, f in zip(self.classifiers, normed)]
        else:
            out["embedding"] = torch.cat([F.normalize(f, dim=1) for f in normed], 1)
        return out

    def losses(self, outputs: dict, batch: dict, task: str | None = None) -> dict[str, torch.Tensor]:
        pids = batch["pid"]
        glob, local = outputs["logits"]
        triplet = sum(batch_hard_triplet(f, pids, self.triplet_margin) for f in outputs["features"]) / 2
        return {"id_global": identity_loss(glob, pids, self.label_smoothing),
                "id_local": identity_loss(local, pids, self.label_smoothing), "triplet": triplet}
