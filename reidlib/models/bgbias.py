"""Person-region guided pooling: the background-bias paper's network.

Paper: "Eliminating Background-Bias for Robust Person Re-Identification" (Tian, Yi, Li, Li,
Zhang, Shi, Yan and Wang, CVPR 2018); the study reads it as ``002_78d1ed02bf80c7ea.txt``
(section 3).

The whole-person *main network* is the DGD-style Inception net
(:class:`reidlib.models.inception_reid.InceptionReID`). Binary region masks
(head, upper torso, lower torso) are down-sampled to the Inception-1 map and
gate it; each gated map runs through its own copy of Inception-2,
Inception-3, pooling and the 256-d fully connected layer. The main feature
and the region features (4 x 256) are concatenated and fused by a fully
connected layer into the final 256-d feature, which an identity classifier
trains and which is compared by cosine distance at test time.

Training follows the paper's stages (section 3.4, after the parser's own
Stage I): II, the main network alone (``id_main``); III, the main network
frozen, the branches initialised from it and trained with the fusion layer
(``id``); IV, everything end to end (``id``). The copy at the start of stage
III is :meth:`PartGuidedNet.on_stage_start`.

Regions come from the batch's part labels (SynthReID ground truth, or a
parser's output written as label maps): 1 head, 2 upper body, 3 lower body;
accessories (4: bags) count as upper torso, where they are carried. The
paper's Table 3 variants are ``regions``: ``[foreground]`` (one branch on the
whole person), ``[upper, lower]`` and ``[head, upper, lower]``; ``[]`` is the
main network only.

Our reading: the masks are down-sampled by area averaging (a cell's gate is
the fraction of its pixels in the region), the fusion layer is Linear + BN +
ReLU like the main network's fully connected layer, and the main network's
own classifier (``id_main``) serves stage II.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from ..losses import identity_loss
from .backbones import backbone_from_config
from .base import ReIDModel, method_options

# Part labels (reidlib.data.masks) of each region.
REGION_LABELS = {"head": (1,), "upper": (2, 4), "lower": (3,), "foreground": (1, 2, 3, 4)}


@dataclass
class BgBiasOptions:
    """``model.options`` of method ``bgbias``."""

    regions: list[str] = field(default_factory=lambda: ["head", "upper", "lower"])

    def __post_init__(self) -> None:
        unknown = [r for r in self.regions if r not in REGION_LABELS]
        if unknown:
            raise ValueError(f"unknown region(s) {unknown} in model.options.regions; choose from {list(REGION_LABELS)}")


# Table 3 of the paper: guided-pooling structures.
ABLATION_ROWS = {
    "Main-net only": {"regions": []},
    "1-branch foreground": {"regions": ["foreground"]},
    "2-branch upper+lower": {"regions": ["upper", "lower"]},
    "Ours (3-branch)": {"regions": ["head", "upper", "lower"]},
}


def region_gates(labels: torch.Tensor, regions: list[str], size: tuple[int, int]) -> torch.Tensor:
    """(B, H, W) part labels -> (B, R, h, w) gates: the share of each cell inside each region."""
    masks = torch.stack([sum((labels == v) for v in REGION_LABELS[r]).float() for r in regions], 1)
    return F.adaptive_avg_pool2d(masks, size)


class PartGuidedNet(ReIDModel):
    """Main network + region branches + fusion (see the module docstring).

    Outputs (training): ``logits`` (fused feature), ``main_logits``; eval:
    ``embedding`` (B, 256), the fused feature (the main feature without branches).
    """

    loss_names = ("id", "id_main")

    def __init__(self, main: nn.Module, num_classes: int, options: BgBiasOptions, label_smoothing: float = 0.0):
        super().__init__()
        self.options = options
        self.main = main
        dim = main.out_dim
        self.main_classifier = nn.Linear(dim, num_classes)
        self.branches = nn.ModuleList(
            nn.ModuleDict({"inception2": copy.deepcopy(main.inception2), "inception3": copy.deepcopy(main.inception3),
                           "head": copy.deepcopy(main.head)}) for _ in options.regions)
        self.fusion = None
        if options.regions:
            self.fusion = nn.Sequential(nn.Linear(dim * (1 + len(options.regions)), dim), nn.ReLU(inplace=True),
                                        nn.BatchNorm1d(dim))
        self.classifier = nn.Linear(dim, num_classes)
        self.needs = ("mask",) if options.regions else ()
        self.label_smoothing = label_smoothing
        self.out_dim = dim

    @classmethod
    def from_config(cls, config, num_classes: int, num_cameras: int) -> PartGuidedNet:
        opts = method_options(BgBiasOptions, config, config.method)
        main = backbone_from_config(config)
        if not hasattr(main, "inception1"):
            raise ValueError(f"the guided-pooling network gates Inception-1 of the Inception-style main network: "
                             f"set model.backbone to inception_reid, not {config.model.backbone!r}")
        return cls(main, num_classes, opts, config.loss.label_smoothing)

    def on_stage_start(self, stage: str) -> None:
        """Stage III starts the branches from the trained main network (section 3.4)."""
        if stage == "branches":
            for branch in self.branches:
                for name in ("inception2", "inception3", "head"):
                    branch[name].load_state_dict(getattr(self.main, name).state_dict())

    def forward(self, batch: dict) -> dict[str, torch.Tensor]:
        m = self.main
        f1 = m.inception1(m.stem(batch["image"]))
        main_feature = m.head(m.inception3(m.inception2(f1)))
        out = {"main_feature": main_feature}
        feature = main_feature
        if self.fusion is not None:
            if "mask" not in batch:
                raise KeyError("the region branches need the part labels: load the dataset with masks")
            gates = region_gates(batch["mask"], self.options.regions, tuple(f1.shape[-2:]))
            parts = [b["head"](b["inception3"](b["inception2"](f1 * gates[:, i:i + 1])))
                     for i, b in enumerate(self.branches)]
            feature = self.fusion(torch.cat([main_feature, *parts], 1))
        out["feature"] = feature
        if self.training:
            out["logits"] = self.classifier(feature)
            out["main_logits"] = self.main_classifier(main_feature)
        else:
            out["embedding"] = feature
        return out

    def losses(self, outputs: dict, batch: dict, task: str | None = None) -> dict[str, torch.Tensor]:
        pids = batch["pid"]
        return {"id": identity_loss(outputs["logits"], pids, self.label_smoothing),
                "id_main": identity_loss(outputs["main_logits"], pids, self.label_smoothing)}
