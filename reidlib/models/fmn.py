"""FMN: the feature mask network (a global network, a mixing network and a locally attentive network).

Paper: "Let Features Decide for Themselves: Feature Mask Network for Person
Re-identification" (Ding, Khan, Tang and Porikli, arXiv:1711.07155, 2017); the study reads
it as ``004_d1959d3eba50cd60.txt`` (sections 3-4). Three parts, each a
submodule that a schedule stage can name:

* ``grn`` (global representation network, 004:74): a ResNet, global average
  pooling into the C-d feature ``g`` and an identity classifier: the IDE
  baseline (:class:`reidlib.models.baselines.IDE` with ``neck: none``).
* ``mixing`` (MN, 004:76, 82-126): a fully connected layer ``W`` from ``g``
  to ``h x w`` values, ReLU (Eq. 1), element-wise ``exp`` and a reshape to an
  ``(h, w)`` mask (Eq. 2), which multiplies every channel of an early GRN map
  ``f`` (Eq. 3). The masked map is the output of Pool1 (the stem), Res2
  (``layer1``), Res3 (``layer2``) or Res4 (``layer3``): ``masked_layer``,
  Pool1 by default (Table 5's best row, 004:280).
* ``lan`` (locally attentive network, 004:78): its own copy of the GRN
  stages after the masked one, global average pooling into ``l`` and its own
  classifier. The copy is taken when the model is built, so it starts from
  the same (ImageNet) weights as the GRN did, as Algorithm 1 initialises both
  from the pretrained model (004:98), not from the fine-tuned GRN.

Training (Algorithm 1, 004:100-114; section 3.3): stage ``grn`` trains the
GRN with cross-entropy (``id_grn``) while MN and LAN stay fixed; stage
``mn_lan`` keeps the GRN fixed and trains MN and LAN with the LAN's
cross-entropy (``id_lan``) and the ranking loss (``rank``, Eq. 5,
:func:`ranking_loss`): ``max(0, p_t^G - p_t^L + m)`` on the softmax
probabilities of the true identity, which asks the LAN to be more confident
than the GRN by a margin. ``reidlib/configs/fmn.yaml`` sets these two stages.

Test descriptor (Eq. 6, 004:150-156): ``D = [alpha g/|g|, (1 - alpha) l/|l|]``
with alpha = 0.5, matched with the Euclidean distance. ``descriptor: grn`` or
``lan`` gives ``g/|g|`` or ``l/|l|`` alone (Table 1's GRN and LAN rows; the
three rows are one trained model). If the engine L2-normalises ``D`` again
(``eval.normalize``), every descriptor is divided by the same constant
``sqrt(alpha^2 + (1 - alpha)^2)``, so Euclidean rankings do not change.

Shapes (ResNet-50, 256x128, last stride 1): Pool1 (64, 64, 32) -> mask
(1, 64, 32), ``W`` 2048 -> 2048 (4.2 M weights); Res2 (256, 64, 32) -> (1, 64, 32);
Res3 (512, 32, 16) -> (1, 32, 16), ``W`` 2048 -> 512; Res4 (1024, 16, 8) -> (1, 16, 8),
``W`` 2048 -> 128; ``g`` and ``l`` 2048-d, ``D`` 4096-d (Table 1's dims). At the
paper's 224x224 the Pool1 mask is 56x56 (Table 5) and ``W`` 2048 -> 3136. With
``resnet_small`` at width 0.5 (widths 16, 32, 64, 128) and 128x64: Pool1
(16, 64, 32) (the small stem has stride 2 and no max pool), Res2 (16, 64, 32),
Res3 (32, 32, 16), Res4 (64, 16, 8); ``g``, ``l`` 128-d, ``D`` 256-d, ``W``
128 -> 2048 at Pool1.

Our reading where the paper is vague:

* ``g`` is the pooled C-d feature, the input of the classifier. The text says
  "final fully connected layer" (004:82) and takes the descriptors from "the
  last FC layer" (004:150), but Table 1 gives them 2048 dimensions (004:176),
  ResNet-50's pooled width, not the number of identities.
* The masked layer: 004:82 says "first residual block", Table 5 and 004:255
  say the best model masks Pool1 (the pooled output of Res1, a quarter of
  its positions), which is the default here.
* ``W`` has no bias (Eq. 1 has none) and is initialised with N(0, 0.001^2):
  Algorithm 1 only says "random" (004:98); small weights make the mask start
  near 1, so the LAN starts by seeing the GRN's unmasked map.
* Eq. 2 orders the ``h x w`` outputs column by column (MATLAB order); we
  reshape row by row. The two differ by a fixed permutation of ``W``'s rows,
  which a learned, randomly initialised layer does not notice.
* The mask's scale: ``exp`` of a ReLU output is >= 1, so the mask never
  suppresses a position below the unmasked feature; it equals 1 wherever
  ``W g <= 0`` and is unbounded above. Only its relative values matter to the
  LAN, whose first block normalises with BN. ``mask_normalised`` (the mask
  divided by its per-image maximum, in (0, 1]) is the map to draw or score
  against person masks (:func:`reidlib.eval.attention.attention_scores` with
  ``key="mask_normalised"``).
* The GRN feeds MN and LAN as a fixed feature provider (004:110): ``g`` and
  ``f`` are detached before MN and LAN, and ``p_t^G`` in the ranking loss is
  detached, so the LAN's losses never reach the GRN even in a schedule that
  trains everything at once.
* The ranking margin ``m`` is not stated; 0.05 (on probabilities) is our
  choice. The loss is averaged over the batch, and Eq. 5's weight against the
  LAN's cross-entropy is not stated (the configs use 1 : 1).
* The LAN pools like the GRN (global average), and its classifier is new.

While neither ``mixing`` nor ``lan`` has a parameter that learns (the
``grn`` stage), the training forward skips MN and LAN, so stage 1 costs what
the IDE baseline costs; ``losses`` then returns only ``id_grn``.
"""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..losses import identity_loss, ranking_loss, true_class_probability
from .backbones import backbone_from_config, require_stages
from .base import ReIDModel, method_options
from .baselines import _init_classifier

# masked_layer -> index into (stem, layer1, layer2, layer3, layer4): the map that is masked.
MASKED_LAYERS = {"pool1": 0, "res2": 1, "res3": 2, "res4": 3}
DESCRIPTORS = ("grn", "lan", "fmn")
STAGE_NAMES = ("stem", "layer1", "layer2", "layer3", "layer4")


@dataclass
class FMNOptions:
    """The switches of the ablations (``model.options`` of method ``fmn``)."""

    masked_layer: str = "pool1"  # pool1 / res2 / res3 / res4 (Table 5)
    margin: float = 0.05  # m of the ranking loss (Eq. 5); not stated in the paper
    alpha: float = 0.5  # weight of g against l in the descriptor (Eq. 6, 004:154)
    descriptor: str = "fmn"  # grn / lan / fmn: Table 1's rows

    def __post_init__(self) -> None:
        if self.masked_layer not in MASKED_LAYERS:
            raise ValueError(f"model.options.masked_layer must be one of {tuple(MASKED_LAYERS)}, "
                             f"got {self.masked_layer!r}")
        if self.descriptor not in DESCRIPTORS:
            raise ValueError(f"model.options.descriptor must be one of {DESCRIPTORS}, got {self.descriptor!r}")
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"model.options.alpha must be in [0, 1], got {self.alpha}")
        if self.margin < 0:
            raise ValueError(f"model.options.margin must be >= 0, got {self.margin}")


# Table 1 (one trained model, three test descriptors) and Table 5 (one model per masked layer;
# its Pool1 row is Table 1's FMN row), as FMNOptions fields.
ABLATION_ROWS: dict[str, dict] = {
    "GRN": {"descriptor": "grn"},
    "LAN": {"descriptor": "lan"},
    "FMN": {"descriptor": "fmn"},
    "Pool1": {"masked_layer": "pool1"},
    "Res2": {"masked_layer": "res2"},
    "Res3": {"masked_layer": "res3"},
    "Res4": {"masked_layer": "res4"},
}


class GlobalNet(nn.Module):
    """GRN: ``backbone`` + global average pooling + ``classifier`` (the IDE baseline)."""

    def __init__(self, backbone: nn.Module, num_classes: int):
        super().__init__()
        self.backbone = backbone
        self.classifier = nn.Linear(backbone.out_channels, num_classes)
        _init_classifier(self.classifier)

    def stages(self) -> list[nn.Module]:
        return [getattr(self.backbone, name) for name in STAGE_NAMES]


class MixingNet(nn.Module):
    """MN: ``(B, C) -> (B, 1, h, w)`` mask ``exp(relu(W g))`` (Eq. 1-2), all values >= 1."""

    def __init__(self, channels: int, mask_size: tuple[int, int]):
        super().__init__()
        self.mask_size = tuple(mask_size)
        self.fc = nn.Linear(channels, mask_size[0] * mask_size[1], bias=False)
        nn.init.normal_(self.fc.weight, std=0.001)

    def forward(self, g: torch.Tensor) -> torch.Tensor:
        logits = F.relu(self.fc(g)).float()  # m' (Eq. 1); exp in float32
        return logits.exp().view(len(g), 1, *self.mask_size)


class LocalNet(nn.Module):
    """LAN: copies of the GRN stages after the masked map + global average pooling + its own classifier."""

    def __init__(self, layers: list[nn.Module], channels: int, num_classes: int):
        super().__init__()
        self.layers = nn.Sequential(*(copy.deepcopy(layer) for layer in layers))
        self.classifier = nn.Linear(channels, num_classes)
        _init_classifier(self.classifier)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x).mean((2, 3))


def masked_map_size(backbone: nn.Module, masked_layer: str, input_size: tuple[int, int]) -> tuple[int, ...]:
    """(C, h, w) of the map ``masked_layer`` at ``input_size`` (H, W), from one forward pass of zeros."""
    first_conv = next(m for m in backbone.stem.modules() if isinstance(m, nn.Conv2d))
    was_training = backbone.training
    backbone.eval()
    try:
        with torch.no_grad():
            x = torch.zeros(1, first_conv.in_channels, *input_size, device=first_conv.weight.device)
            for name in STAGE_NAMES[: MASKED_LAYERS[masked_layer] + 1]:
                x = getattr(backbone, name)(x)
    finally:
        backbone.train(was_training)
    return tuple(x.shape[1:])


class FMN(ReIDModel):
    """FMN on a :class:`reidlib.models.resnet.ResNetBackbone` (see the module docstring).

    Args:
        backbone: a ResNet with ``stem``, ``layer1`` .. ``layer4`` and ``out_channels``.
        num_classes: training identities.
        options: :class:`FMNOptions`.
        input_size: (H, W) of the images; the mask has the masked map's size
            at this input, so other sizes are refused.
        label_smoothing: of both cross-entropies (0 in the paper).
        pretrained: the backbone holds ImageNet weights (``grn.backbone`` and
            ``lan.layers`` then get ``optim.pretrained_lr_mult``).

    Outputs in training: ``grn_logits``, and unless MN and LAN are frozen,
    ``lan_logits`` and ``mask`` (B, 1, h, w). In eval mode: ``embedding``
    (B, D), ``grn_feature`` and ``lan_feature`` (B, C), ``mask`` and
    ``mask_normalised`` (B, 1, h, w), the latter in (0, 1].
    """

    loss_names = ("id_grn", "id_lan", "rank")

    def __init__(self, backbone: nn.Module, num_classes: int, options: FMNOptions | None = None,
                 input_size: tuple[int, int] = (256, 128), label_smoothing: float = 0.0, pretrained: bool = False):
        super().__init__()
        self.options = options or FMNOptions()
        if not all(hasattr(backbone, name) for name in STAGE_NAMES):
            raise ValueError("FMN masks a map of a ResNet: the backbone needs stem and layer1 .. layer4")
        index = MASKED_LAYERS[self.options.masked_layer]
        channels, h, w = masked_map_size(backbone, self.options.masked_layer, input_size)
        self.input_size = tuple(input_size)
        self.masked_channels = channels
        self.grn = GlobalNet(backbone, num_classes)
        self.mixing = MixingNet(backbone.out_channels, (h, w))
        self.lan = LocalNet(self.grn.stages()[index + 1:], backbone.out_channels, num_classes)
        self.masked_index = index
        self.label_smoothing = label_smoothing
        self.pretrained_modules = ("grn.backbone", "lan.layers") if pretrained else ()
        c = backbone.out_channels
        self.out_dim = 2 * c if self.options.descriptor == "fmn" else c

    @classmethod
    def from_config(cls, config, num_classes: int, num_cameras: int) -> FMN:
        opts = method_options(FMNOptions, config, config.method)
        backbone = backbone_from_config(config)
        require_stages(backbone, ("stem", "layer1", "layer2", "layer3", "layer4"), config,
                       "FMN masks Pool1 / Res2 / Res3 / Res4 of a ResNet")
        m = config.model
        if m.neck != "none" or m.embed_dim or m.dropout:
            raise ValueError("FMN's GRN is the plain IDE (pooling + classifier): set model.neck: none, "
                             "embed_dim: 0, dropout: 0")
        return cls(backbone, num_classes, opts, (config.data.height, config.data.width),
                   config.loss.label_smoothing, pretrained=bool(m.pretrained))

    def _local_path_learns(self) -> bool:
        return any(p.requires_grad for p in itertools.chain(self.mixing.parameters(), self.lan.parameters()))

    def forward(self, batch: dict) -> dict[str, torch.Tensor]:
        x = batch["image"]
        f = None
        for i, stage in enumerate(self.grn.stages()):
            x = stage(x)
            if i == self.masked_index:
                f = x
        g = x.mean((2, 3))
        out = {}
        if f.shape[2:] != self.mixing.mask_size:
            raise ValueError(f"FMN was built for {self.input_size[0]}x{self.input_size[1]} images (a "
                             f"{self.mixing.mask_size[0]}x{self.mixing.mask_size[1]} mask on "
                             f"{self.options.masked_layer}); these give a {f.shape[2]}x{f.shape[3]} map")
        if self.training:
            out["grn_logits"] = self.grn.classifier(g)
            if not self._local_path_learns():
                return out  # stage 1: MN and LAN are fixed, so they need not run
        # The GRN is a fixed feature provider for MN and LAN (Algorithm 1, 004:110).
        mask = self.mixing(g.detach())
        l = self.lan(f.detach() * mask.to(f.dtype))  # Eq. 3: every channel times the same mask
        out["mask"] = mask
        if self.training:
            out["lan_logits"] = self.lan.classifier(l)
            return out
        out["grn_feature"], out["lan_feature"] = g, l
        out["mask_normalised"] = mask / mask.amax((2, 3), keepdim=True)
        out["embedding"] = self.descriptor(g, l)
        return out

    @torch.no_grad()
    def activation_maps(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """Where GRN and LAN respond (the paper's Fig. 4 heat maps): (B, 3, H, W) -> ``grn``, ``lan`` (B, h, w).

        Each map is the L2 norm over channels of the network's last feature
        map before pooling (GRN's last stage; LAN's last stage on the masked
        map), divided by its per-image maximum. Test identities are not among
        the training classes, so a class activation map has no class to show.
        """
        x, f = images, None
        for i, stage in enumerate(self.grn.stages()):
            x = stage(x)
            if i == self.masked_index:
                f = x
        lan = self.lan.layers(f * self.mixing(x.mean((2, 3))).to(f.dtype))
        maps = {"grn": x.float().norm(dim=1), "lan": lan.float().norm(dim=1)}
        return {k: m / m.flatten(1).amax(1).clamp_min(1e-12)[:, None, None] for k, m in maps.items()}

    def descriptor(self, g: torch.Tensor, l: torch.Tensor) -> torch.Tensor:
        """Eq. 6: ``[alpha g/|g|, (1 - alpha) l/|l|]``, or one normalised part (``descriptor`` grn / lan)."""
        g, l = F.normalize(g.float(), dim=1), F.normalize(l.float(), dim=1)
        if self.options.descriptor == "grn":
            return g
        if self.options.descriptor == "lan":
            return l
        a = self.options.alpha
        return torch.cat([a * g, (1 - a) * l], 1)

    def losses(self, outputs: dict, batch: dict, task: str | None = None) -> dict[str, torch.Tensor]:
        pids = batch["pid"]
        terms = {"id_grn": identity_loss(outputs["grn_logits"], pids, self.label_smoothing)}
        if "lan_logits" in outputs:
            terms["id_lan"] = identity_loss(outputs["lan_logits"], pids, self.label_smoothing)
            terms["rank"] = ranking_loss(true_class_probability(outputs["grn_logits"], pids),
                                         true_class_probability(outputs["lan_logits"], pids),
                                         self.options.margin)
        return terms
