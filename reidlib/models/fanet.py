"""FA-Net: the foreground-aware network with a camera-identity background branch.

Paper: "An End-to-End Foreground-Aware Network for Person Re-Identification" (Liu, Zhou,
Liu, Qi, Tian and Li, IEEE Transactions on Image Processing, 2021); the study reads it as
``000_9522135b30cce022.txt`` (section III; ``000:N`` below is a line of that file). A ResNet is split before
its third stage (torchvision's ``layer3``, the paper's res_conv4): the
stem, ``layer1`` and ``layer2`` are shared low-level layers; ``layer3`` and
``layer4`` are copied into a *foreground* branch (person identities) and a
*background* branch (camera identities) that share no weights.

* TEM (target enhancement module, Eq. 1): 1x1 conv 256 + BN + ReLU, 3x3 conv
  128 + BN + ReLU, 1x1 conv to ``k`` maps, their mean, a sigmoid: the soft
  foreground mask Zf, (B, 1, h, w). Fg = F * Zf (Eq. 2).
* BG: the background branch with camera classifiers on its features.
* IA (interaction, Eq. 3): the background features are gated by 1 - Zf.
* TAL (target attention loss, Eq. 4-5, or the variants of Eq. 7).
* HPP (horizontal pyramid pooling): 1, 2, 4 and 8 stripes (15 in all), each
  pooled (average + max, as in the HPP paper) and embedded to 256-d with its
  own classifier. Without HPP the map is average-pooled into one C-d feature
  with one classifier, as in the paper's baseline.

Loss (Eq. 6): 0.5 (Lf + Lb) + Lt, Lf and Lb the mean cross-entropy over the
person and camera classifiers: ``loss.weights`` ``{id: 0.5, camera: 0.5,
tal: 1}``. At test time only the foreground path runs; the embedding is the
concatenation of the L2-normalised stripe embeddings (HPP) or the pooled
feature. Every row of the paper's ablation (Tables I and II) is a setting of
:class:`FANetOptions` (:data:`ABLATION_ROWS`).

Our reading where the paper is vague: B is the output of the background
branch's last block (the text says "low-level" module once, but the
branches are described as copies of the remaining blocks); the stripe
pooling (average + max) and the embedding (Linear + BN) are not stated.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..losses import identity_loss, target_attention_loss
from .backbones import backbone_from_config, require_stages
from .base import ReIDModel, method_options

HPP_SCALES = (1, 2, 4, 8)
TAL_VARIANTS = ("none", "full", "v1", "v2")


@dataclass
class FANetOptions:
    """The switches of the ablation (``model.options`` of method ``fanet``)."""

    tem: bool = True  # target enhancement module
    bg: bool = True  # background branch with camera classifiers
    ia: bool = True  # background features gated by 1 - Zf
    tal: str = "full"  # target attention loss: none / full / v1 / v2
    hpp: bool = True  # horizontal pyramid pooling (else one global feature)
    k: int = 256  # attention maps averaged in TEM
    tem_widths: tuple[int, int] = (256, 128)  # TEM's two convolutions (the paper's, for 2048 input channels)
    embed_dim: int = 256  # stripe embedding (HPP)

    def __post_init__(self) -> None:
        if self.tal not in TAL_VARIANTS:
            raise ValueError(f"model.options.tal must be one of {TAL_VARIANTS}, got {self.tal!r}")
        if self.ia and not (self.tem and self.bg):
            raise ValueError("model.options.ia gates the background branch with TEM's mask: it needs tem and bg")
        if self.tal != "none" and not (self.tem and self.bg):
            raise ValueError("model.options.tal needs TEM's mask and the background branch: set tem and bg")
        if self.k < 1:
            raise ValueError(f"model.options.k must be >= 1, got {self.k}")


# The rows of Tables I and II, as FANetOptions fields.
ABLATION_ROWS: dict[str, dict] = {
    "B/L": {"tem": False, "bg": False, "ia": False, "tal": "none", "hpp": False},
    "B/L+TEM": {"tem": True, "bg": False, "ia": False, "tal": "none", "hpp": False},
    "B/L+TEM+BG": {"tem": True, "bg": True, "ia": False, "tal": "none", "hpp": False},
    "B/L+TEM+BG+IA": {"tem": True, "bg": True, "ia": True, "tal": "none", "hpp": False},
    "B/L+TEM+BG+IA+TAL": {"tem": True, "bg": True, "ia": True, "tal": "full", "hpp": False},
    "FA-Net": {"tem": True, "bg": True, "ia": True, "tal": "full", "hpp": True},
    "B/L+TEM+BG+IA+TALv1": {"tem": True, "bg": True, "ia": True, "tal": "v1", "hpp": False},
    "B/L+TEM+BG+IA+TALv2": {"tem": True, "bg": True, "ia": True, "tal": "v2", "hpp": False},
}


class TargetEnhancement(nn.Module):
    """TEM: ``(B, C, h, w) -> (B, 1, h, w)`` soft foreground mask in (0, 1) (Eq. 1)."""

    def __init__(self, channels: int, k: int = 256, widths: tuple[int, int] = (256, 128)):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, widths[0], 1, bias=False), nn.BatchNorm2d(widths[0]), nn.ReLU(inplace=True),
            nn.Conv2d(widths[0], widths[1], 3, padding=1, bias=False), nn.BatchNorm2d(widths[1]),
            nn.ReLU(inplace=True), nn.Conv2d(widths[1], k, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.body(x).mean(1, keepdim=True))


class PyramidHead(nn.Module):
    """Stripes of a map, each pooled, embedded and classified: ``(B, C, h, w) -> [(B, D)], [(B, classes)]``.

    ``scales=(1,)`` with ``embed_dim=0`` is plain global average pooling into
    one C-d feature (the baseline's head).
    """

    def __init__(self, channels: int, num_classes: int, scales: tuple[int, ...], embed_dim: int):
        super().__init__()
        self.scales = scales
        n = sum(scales)
        dim = embed_dim or channels
        self.embed = nn.ModuleList(
            nn.Sequential(nn.Linear(channels, embed_dim), nn.BatchNorm1d(embed_dim)) if embed_dim else nn.Identity()
            for _ in range(n))
        self.classifiers = nn.ModuleList(nn.Linear(dim, num_classes) for _ in range(n))
        for layer in self.classifiers:
            nn.init.normal_(layer.weight, std=0.001)
            nn.init.zeros_(layer.bias)
        self.out_dim = n * dim

    def pool(self, x: torch.Tensor) -> list[torch.Tensor]:
        if x.shape[2] < max(self.scales):
            raise ValueError(f"a {x.shape[2]}-row map cannot be cut into {max(self.scales)} stripes: use a larger input")
        if self.scales == (1,) and isinstance(self.embed[0], nn.Identity):
            return [x.mean((2, 3))]
        stripes = []
        for s in self.scales:
            stripes += list((F.adaptive_avg_pool2d(x, (s, 1)) + F.adaptive_max_pool2d(x, (s, 1))).unbind(2))
        return [t.flatten(1) for t in stripes]

    def forward(self, x: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        feats = [emb(p) for emb, p in zip(self.embed, self.pool(x))]
        return feats, [clf(f) for clf, f in zip(self.classifiers, feats)]


class FANet(ReIDModel):
    """FA-Net on a :class:`reidlib.models.resnet.ResNetBackbone` (see the module docstring).

    Outputs (training): ``id_logits`` and ``camera_logits`` (lists, one per
    stripe), ``F``, ``B`` (raw branch maps, (N, C, h, w)) and ``zf`` (N, 1, h, w).
    In eval mode: ``embedding`` (N, D), ``F`` and ``zf``.
    """

    loss_names = ("id", "camera", "tal")
    needs = ("camid",)

    def __init__(self, backbone: nn.Module, num_classes: int, num_cameras: int, options: FANetOptions,
                 label_smoothing: float = 0.0, pretrained: bool = False):
        super().__init__()
        self.options = options
        self.shared = nn.Sequential(backbone.stem, backbone.layer1, backbone.layer2)
        self.fg_branch = nn.Sequential(backbone.layer3, backbone.layer4)
        channels = backbone.out_channels
        scales = HPP_SCALES if options.hpp else (1,)
        embed = options.embed_dim if options.hpp else 0
        self.tem = TargetEnhancement(channels, options.k, options.tem_widths) if options.tem else None
        self.id_head = PyramidHead(channels, num_classes, scales, embed)
        self.bg_branch = copy.deepcopy(self.fg_branch) if options.bg else None
        self.camera_head = PyramidHead(channels, num_cameras, scales, embed) if options.bg else None
        self.label_smoothing = label_smoothing
        self.out_dim = self.id_head.out_dim
        self.pretrained_modules = ("shared", "fg_branch", "bg_branch") if pretrained else ()

    @classmethod
    def from_config(cls, config, num_classes: int, num_cameras: int) -> FANet:
        opts = method_options(FANetOptions, config, config.method)
        backbone = backbone_from_config(config)
        require_stages(backbone, ("layer3",), config, "FA-Net splits a ResNet before layer3")
        return cls(backbone, num_classes, num_cameras, opts, config.loss.label_smoothing,
                   pretrained=bool(config.model.pretrained))

    def forward(self, batch: dict) -> dict[str, torch.Tensor]:
        low = self.shared(batch["image"])
        fmap = self.fg_branch(low)  # F
        out = {"F": fmap}
        gated = fmap
        if self.tem is not None:
            out["zf"] = self.tem(fmap)
            gated = fmap * out["zf"]  # Fg
        feats, logits = self.id_head(gated)
        if not self.training:
            out["embedding"] = (torch.cat([F.normalize(f, dim=1) for f in feats], 1) if len(feats) > 1
                                else feats[0])
            return out  # the background branch is not part of inference
        out["id_logits"] = logits
        if self.bg_branch is not None:
            bmap = self.bg_branch(low)  # B
            out["B"] = bmap
            bg_gated = bmap * (1 - out["zf"]) if self.options.ia else bmap  # Bg
            out["camera_logits"] = self.camera_head(bg_gated)[1]
        return out

    @torch.no_grad()
    def feature_maps(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """For pictures: F and B averaged over channels, (N, h, w), and Zf, (N, h, w) (when built)."""
        low = self.shared(images)
        maps = {"F": self.fg_branch(low).mean(1)}
        if self.tem is not None:
            maps["Zf"] = self.tem(self.fg_branch(low))[:, 0]
        if self.bg_branch is not None:
            maps["B"] = self.bg_branch(low).mean(1)
        return maps

    def losses(self, outputs: dict, batch: dict, task: str | None = None) -> dict[str, torch.Tensor]:
        def mean_ce(logits, target):
            return torch.stack([identity_loss(z, target, self.label_smoothing) for z in logits]).mean()

        terms = {"id": mean_ce(outputs["id_logits"], batch["pid"])}
        if "camera_logits" in outputs:
            terms["camera"] = mean_ce(outputs["camera_logits"], batch["camid"])
        if self.options.tal != "none":
            terms["tal"] = target_attention_loss(outputs["F"], outputs["B"], outputs["zf"], self.options.tal)
        return terms
