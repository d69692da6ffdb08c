"""FTN: the foreground-guided texture-focused network (CFA attention + a reconstruction decoder).

Paper: "FTN: Foreground-Guided Texture-Focused Person Re-Identification" (Liu, Han, Chen,
Xia and Zhao, arXiv:2009.11425, 2020); the study reads it as ``001_b20ba497612f67bf.txt``
(sections 3-4). The network is
:class:`reidlib.models.baselines.GlobalLocal` (FTN's baseline) with two
additions on the map of the ResNet's stage 4 (torchvision's ``layer3``
output, the input of ``layer4``):

* **CFA** (:class:`CompactForegroundAttention`, 001:84-98): channel max
  pooling C -> C/n, one set of 1x1 projections Q, K, V shared by a channel
  affinity (D x D) and a position affinity (N x N), ``B' = gamma CA + phi PA
  + B``, and a recover layer (BN + 1x1 conv) back to C channels. Its output
  is a third branch: average-pooled, BN neck, classifier.
* **TF-Dec** (:class:`TextureDecoder`, 001:73, 80): a 1x1 head to 64
  channels, x2 up-blocks (PixelShuffle, 3x3 conv, MSRB) up to the input
  size, a 3-channel tail. It is trained to reproduce the input image
  weighted by a centred Gaussian and/or CFA's attention masks (Table 2's
  targets), with an L1 loss and the gradient loss of Eq. 2-4
  (:func:`reidlib.losses.gradient_loss`). It only runs on reconstruction
  batches during training; it is not part of inference (001:36, 59).

Shapes (256x128, ResNet-50, last stride 1): stage 4 (1024, 16, 8) -> CFA:
CMP (512, 16, 8), N = 128, X (512, 512), S (128, 128), recover (1024, 16, 8);
stage 5 (2048, 16, 8) -> global (2048); local bottleneck (2048, 16, 8) ->
max pool (2048); test embedding = [CFA 1024 | global 2048 | local 2048] =
5120-d; TF-Dec: (64, 16, 8) -> 4 up-blocks -> (3, 256, 128). At 128x64 with
``resnet_small`` (width 0.5): stage 4 (64, 16, 8), CMP (32, 16, 8), stage 5
(128, 16, 8), embedding 64 + 128 + 128 = 320-d, TF-Dec 3 up-blocks
(stage 4 is at stride 8 there) -> (3, 128, 64).

Losses: ``id`` (cross-entropy, averaged over the two or three classifiers),
``triplet`` (batch-hard, averaged over the pooled features before their BN
necks, as in GlobalLocal), ``gradient`` and ``l1`` (reconstruction). Tasks:
``reid`` -> id, triplet; ``reconstruction`` -> gradient, l1. The paper
alternates in groups of three batches, two Re-ID batches with weights
(1, 0.1, 0, 0) and one reconstruction batch with (0, 0, 1, 1) (001:134; it
says "epochs" for the members of the group, but a group of three batches
has batches as members). A "reid" batch skips the decoder; a
"reconstruction" batch skips stage 5 and the heads. Without a decoder the
model has only the ``reid`` task (so a schedule that alternates
``reconstruction`` is refused by the engine: train such rows without
``alternate``), and with ``attention: none`` it is GlobalLocal, except that
``id`` is the mean, not the sum, of the two cross-entropies.

Our reading where the paper is vague or garbled:

* Where CFA's output goes (001:69, 82, 36): the stage-4 map is the input of
  CFA and of TF-Dec, stage 5 is the global branch, and CFA, the global and
  the local branch each give one pooled vector, concatenated at test time.
  Nothing says CFA's output replaces stage 5's input, CFA is called an
  independent module, and the warm-up trains attention modules while the
  backbone is frozen (001:142), which a randomly initialised recover layer
  in front of a pretrained stage 5 would not survive. So CFA is a side
  branch parallel to stage 5; it shapes the backbone through the gradients
  of its own losses (and of the decoder's), not through the forward path.
* CFA's pooling: GAP for the CFA and global vectors, GMP for the local one
  (001:82 names GAP, GMP and FC layers without pairing them; GlobalLocal
  pools the branches this way); the "FC layers" are the BN necks'
  classifiers, with no extra embedding layer.
* TF-Dec's input: the CFA output A' (``decoder_input: attention``). 001:69
  says stage 4 feeds TF-Dec, and 001:190 says the reconstruction forces
  "S-Enc and CFA" to drop background: with the mask detached in the target
  (below), only A' as the decoder's input lets reconstruction gradients
  reach CFA. ``decoder_input: stage4`` decodes the raw stage-4 map instead.
  Row (a) (no CFA) always decodes stage 4.
* Eq. 1 (001:96) prints a sum over channels on the right; we read it per
  channel: ``B'_i = gamma CA_i + phi PA_i + B_i``. gamma and phi start at 0
  (DANet's convention; the paper only says they are learnt).
* The affinities (001:94): Q and K each go through BN + ReLU; X = softmax(Q
  K^T) over its rows (D x D, Q and K as D x N), S = softmax(Q^T K) (N x N);
  CA = X V and PA = V S^T (D x N). No 1/sqrt(d) scaling is mentioned, so
  there is none. Q, K and V are three 1x1 convolutions D -> D with bias; the
  recover layer is BN(D) then a 1x1 convolution D -> C with bias. With
  these choices CFA at C = 1024 has 1,316,354 parameters, the paper's "1.3
  million" (001:163).
* "w/o CMP" (Table 1): 001:92 reports that channel pooling beat a
  convolution for reducing the channels, so without CMP a 1x1 convolution
  C -> C/n takes its place (``reduce_without_cmp: conv``);
  ``reduce_without_cmp: none`` keeps all C channels instead.
* The attention masks (PAm, CAm of Table 2) are not defined in the text.
  The paper calls CFA's output an attention map and shows CFA "response
  maps" (001:194); a map of D channels becomes one spatial mask the usual
  way activation maps are drawn: the mean of its squared activations over
  the channels, then min-max normalised per image to [0, 1]. PAm is that of
  PA, CAm that of CA, each (B, 1, h, w). ``outputs["cfa"]`` (the map that
  :func:`reidlib.eval.attention.attention_scores` scores against person
  masks) is PAm, or CAm when CFA has no position attention.
* The targets (Table 2, 001:175-186): the (normalised) input image times
  the Gaussian weight (:meth:`reidlib.data.transforms.GaussianWeight.weight`,
  ``gaussian_sigma`` a fraction of the image size; the paper gives no
  sigma) and/or the masks, bilinearly upsampled to the image size; several
  weights multiply (001:225: the Gaussian suppresses what the attention mask
  keeps in the background). The masks are detached: the target is a
  ground truth. Were gradients to flow into it, the cheapest way to lower
  the L1 and gradient losses would be to shrink the masks towards zero (a
  flat, easy target) rather than to reconstruct the person, and the
  reconstruction loss would then train CFA to switch its masks off.

  ======  =====  ========  ===  ===  ==================================
  target  CFA    Gaussian  PAm  CAm  note
  ======  =====  ========  ===  ===  ==================================
  a       no     yes       no   no   TF-Dec without CFA in the network
  b       yes    no        no   no   the plain input
  c       yes    yes       no   no
  d       yes    yes       yes  no
  e       yes    yes       no   yes
  f       yes    yes       yes  yes  without the gradient loss
  g       yes    yes       yes  yes  FTN (Table 3)
  ======  =====  ========  ===  ===  ==================================

  The printed Table 2 has seven FTN rows, (a)..(g) in order (001:178-184);
  (f) *is* (g) without the gradient loss, so "g without the gradient loss"
  is not an eighth row.
* TF-Dec (001:73): each up-block is PixelShuffle x2 (64 -> 16 channels),
  a 3x3 convolution 16 -> 64 and an MSRB (Li et al. 2018: parallel 3x3 and
  5x5 convolutions with ReLU, crossed and repeated at 128 channels, fused by
  a 1x1 convolution, plus the input), in the order the paper lists them. The
  number of up-blocks is log2 of stage 4's stride (4 for ResNet-50, 3 for
  ``resnet_small``), so the output has the input's size; if the input size
  is not a multiple of that stride the output is resized bilinearly to it.
  ``decoder_channels`` is the paper's 64 at the gpu profile; the ci and cpu
  profiles thin it (reidlib/configs/ftn.yaml), because the decoder works at
  full image resolution and would otherwise cost ~100x the thin backbone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models.resnet import Bottleneck

from ..data.transforms import GaussianWeight
from ..losses import batch_hard_triplet, gradient_loss, identity_loss, reconstruction_l1
from .backbones import backbone_from_config, require_stages
from .base import ReIDModel, method_options
from .baselines import BNNeck, _init_classifier

ATTENTIONS = ("none", "pamcam", "cfa")
# Table 2's reconstruction targets: letter -> (Gaussian weight, position mask, channel mask).
TARGETS: dict[str, tuple[bool, bool, bool]] = {
    "a": (True, False, False),
    "b": (False, False, False),
    "c": (True, False, False),
    "d": (True, True, False),
    "e": (True, False, True),
    "f": (True, True, True),
    "g": (True, True, True),
}


@dataclass
class FTNOptions:
    """The switches of the ablations (``model.options`` of method ``ftn``)."""

    attention: str = "cfa"  # none / pamcam (DANet's PAM + CAM) / cfa
    use_pa: bool = True  # CFA's position attention
    use_ca: bool = True  # CFA's channel attention
    use_cmp: bool = True  # CFA's channel max pooling
    cmp_n: int = 2  # 1 x n channel max pooling: D = C / n
    reduce_without_cmp: str = "conv"  # without CMP: conv (1x1 conv C -> C/n) or none (D = C)
    decoder: bool = True  # TF-Dec and the reconstruction task
    decoder_input: str = "attention"  # attention (CFA / PAM-CAM output) or stage4 (the raw layer3 map)
    decoder_channels: int = 64
    target: str = "g"  # Table 2's reconstruction target (a..g), see TARGETS
    gradient_loss: bool = True
    gaussian_sigma: float = 0.5  # of GaussianWeight.weight, a fraction of the image height / width

    def __post_init__(self) -> None:
        if self.attention not in ATTENTIONS:
            raise ValueError(f"model.options.attention must be one of {ATTENTIONS}, got {self.attention!r}")
        if self.target not in TARGETS:
            raise ValueError(f"model.options.target must be one of {tuple(TARGETS)}, got {self.target!r}")
        if self.reduce_without_cmp not in ("conv", "none"):
            raise ValueError("model.options.reduce_without_cmp must be 'conv' or 'none', "
                             f"got {self.reduce_without_cmp!r}")
        if self.decoder_input not in ("attention", "stage4"):
            raise ValueError(f"model.options.decoder_input must be 'attention' or 'stage4', got {self.decoder_input!r}")
        if self.cmp_n < 1 or self.decoder_channels < 1 or self.gaussian_sigma <= 0:
            raise ValueError("model.options.cmp_n and decoder_channels must be >= 1 and gaussian_sigma > 0")
        if self.attention == "cfa" and not (self.use_pa or self.use_ca):
            raise ValueError("CFA needs use_pa or use_ca (or both); for no attention set attention: none")
        if not self.decoder:
            return
        _, pam, cam = TARGETS[self.target]
        if self.target == "a" and self.attention != "none":
            raise ValueError("target (a) trains TF-Dec without CFA in the network (set attention: none); "
                             "the same Gaussian target with CFA is (c)")
        if self.target != "a" and self.attention == "none":
            raise ValueError(f"target ({self.target}) is one of Table 2's rows with CFA; without attention use (a)")
        if (pam or cam) and self.attention != "cfa":
            raise ValueError(f"target ({self.target}) weighs the input by CFA's masks: it needs attention: cfa")
        if pam and not self.use_pa:
            raise ValueError(f"target ({self.target}) uses the position attention mask: it needs use_pa")
        if cam and not self.use_ca:
            raise ValueError(f"target ({self.target}) uses the channel attention mask: it needs use_ca")
        if self.target == "f" and self.gradient_loss:
            raise ValueError("target (f) is (g) without the gradient loss: set gradient_loss: false, or use (g)")
        if self.target == "g" and not self.gradient_loss:
            raise ValueError("(g) without the gradient loss is Table 2's row (f): set target: f")


def _row(attention="cfa", use_pa=True, use_ca=True, use_cmp=True, decoder=False, target="g",
         gradient_loss=True) -> dict:
    return {"attention": attention, "use_pa": use_pa, "use_ca": use_ca, "use_cmp": use_cmp, "decoder": decoder,
            "target": target, "gradient_loss": gradient_loss}


# The rows of Tables 1 and 2, as FTNOptions fields; the keys are the row labels of reidlib/papers/ftn.csv.
ABLATION_ROWS: dict[str, dict] = {
    # Table 1: attention modules, no TF-Dec (001:148, 152-161)
    "Base.": _row(attention="none"),
    "Base. + PAM-CAM": _row(attention="pamcam"),
    "Base. + CFA w/o PA": _row(use_pa=False),
    "Base. + CFA w/o CA": _row(use_ca=False),
    "Base. + CFA w/o CMP": _row(use_cmp=False),
    "Base. + CFA": _row(),
    # Table 2: reconstruction targets (001:175-186); (g) is FTN
    "(a)": _row(attention="none", decoder=True, target="a"),
    "(b)": _row(decoder=True, target="b"),
    "(c)": _row(decoder=True, target="c"),
    "(d)": _row(decoder=True, target="d"),
    "(e)": _row(decoder=True, target="e"),
    "(f)": _row(decoder=True, target="f", gradient_loss=False),
    "(g)": _row(decoder=True, target="g"),
}


def spatial_mask(maps: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """``(B, D, N)`` attention features -> ``(B, 1, h, w)`` mask in [0, 1].

    The mean squared activation over the D channels at each position,
    min-max normalised per image (a flat map gives zeros).
    """
    energy = maps.float().pow(2).mean(1)
    low, high = energy.amin(1, keepdim=True), energy.amax(1, keepdim=True)
    return ((energy - low) / (high - low).clamp_min(1e-12)).view(-1, 1, *size)


class CompactForegroundAttention(nn.Module):
    """CFA: ``(B, C, h, w) -> {"out": (B, C, h, w), "pa_mask", "ca_mask": (B, 1, h, w)}`` (001:90-98).

    ``A -> B`` (1 x n channel max pooling, C -> D = C/n), ``Q, K, V`` (1x1
    convolutions D -> D), X = softmax(relu(bn(Q)) relu(bn(K))^T) (D x D),
    S = softmax(relu(bn(Q))^T relu(bn(K))) (N x N), CA = X V, PA = V S^T,
    ``B' = gamma CA + phi PA + B``, ``A' = conv1x1(bn(B'))``. The masks are
    :func:`spatial_mask` of PA and CA (see the module docstring); only those
    of the switched-on attentions are returned.
    """

    def __init__(self, channels: int, n: int = 2, use_pa: bool = True, use_ca: bool = True, use_cmp: bool = True,
                 reduce_without_cmp: str = "conv"):
        super().__init__()
        if not (use_pa or use_ca):
            raise ValueError("CFA needs position attention, channel attention or both")
        if (use_cmp or reduce_without_cmp == "conv") and channels % n:
            raise ValueError(f"1 x {n} channel pooling needs channels divisible by {n}, got {channels}")
        self.n, self.use_pa, self.use_ca, self.use_cmp = n, use_pa, use_ca, use_cmp
        dim = channels // n if (use_cmp or reduce_without_cmp == "conv") else channels
        self.reduce = nn.Conv2d(channels, dim, 1) if (not use_cmp and reduce_without_cmp == "conv") else None
        self.query, self.key, self.value = (nn.Conv2d(dim, dim, 1) for _ in range(3))
        self.query_norm, self.key_norm = nn.BatchNorm2d(dim), nn.BatchNorm2d(dim)
        self.gamma = nn.Parameter(torch.zeros(1)) if use_ca else None  # weight of CA
        self.phi = nn.Parameter(torch.zeros(1)) if use_pa else None  # weight of PA
        self.recover = nn.Sequential(nn.BatchNorm2d(dim), nn.Conv2d(dim, channels, 1))
        self.dim = dim

    def compact(self, a: torch.Tensor) -> torch.Tensor:
        """B: the 1 x n channel max pooling of A (max over each run of n neighbouring channels)."""
        if self.use_cmp:
            b, c, h, w = a.shape
            return a.reshape(b, c // self.n, self.n, h, w).amax(2)
        return self.reduce(a) if self.reduce is not None else a

    def forward(self, a: torch.Tensor) -> dict[str, torch.Tensor]:
        b = self.compact(a)
        size = tuple(b.shape[-2:])
        q = F.relu(self.query_norm(self.query(b))).flatten(2)  # (B, D, N)
        k = F.relu(self.key_norm(self.key(b))).flatten(2)
        v = self.value(b).flatten(2)
        out = b.flatten(2)
        masks = {}
        if self.use_ca:
            x = torch.softmax(q @ k.transpose(1, 2), dim=-1)  # channel affinity X, (B, D, D)
            ca = x @ v
            out = out + self.gamma * ca
            masks["ca_mask"] = spatial_mask(ca, size)
        if self.use_pa:
            s = torch.softmax(q.transpose(1, 2) @ k, dim=-1)  # position affinity S, (B, N, N)
            pa = v @ s.transpose(1, 2)
            out = out + self.phi * pa
            masks["pa_mask"] = spatial_mask(pa, size)
        return {"out": self.recover(out.reshape(b.shape)), **masks}


class PositionAttentionModule(nn.Module):
    """DANet's PAM (Fu et al. 2019): ``x + gamma * V softmax(Q^T K)^T``, Q and K at C/8 channels."""

    def __init__(self, channels: int):
        super().__init__()
        inner = max(1, channels // 8)
        self.query, self.key = nn.Conv2d(channels, inner, 1), nn.Conv2d(channels, inner, 1)
        self.value = nn.Conv2d(channels, channels, 1)
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self.query(x).flatten(2), self.key(x).flatten(2), self.value(x).flatten(2)
        attn = torch.softmax(q.transpose(1, 2) @ k, dim=-1)  # (B, N, N)
        return x + self.gamma * (v @ attn.transpose(1, 2)).view_as(x)


class ChannelAttentionModule(nn.Module):
    """DANet's CAM: ``x + beta * softmax(max(E) - E) x`` with E = x x^T (C x C), no projections."""

    def __init__(self):
        super().__init__()
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = x.flatten(2)
        energy = f @ f.transpose(1, 2)
        attn = torch.softmax(energy.amax(-1, keepdim=True) - energy, dim=-1)
        return x + self.gamma * (attn @ f).view_as(x)


class PAMCAM(nn.Module):
    """The comparison module of Table 1: DANet's PAM and CAM on the same map, summed.

    ``(B, C, h, w) -> {"out": (B, C, h, w)}``. This is the standard DANet
    formulation, not the 3x3-reduce / 3x3-restore head that 001:88
    describes for ABD-Net's PAM-CAM (whose widths the paper does not give).
    """

    def __init__(self, channels: int):
        super().__init__()
        self.pam = PositionAttentionModule(channels)
        self.cam = ChannelAttentionModule()

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"out": self.pam(x) + self.cam(x)}


class MSRB(nn.Module):
    """Multi-scale residual block (Li et al., ECCV 2018): ``(B, c, h, w) -> (B, c, h, w)``.

    S1 = relu(conv3(x)), P1 = relu(conv5(x)); S2 = relu(conv3([S1, P1])),
    P2 = relu(conv5([P1, S1])) at 2c channels; out = conv1x1([S2, P2]) + x.
    """

    def __init__(self, channels: int = 64):
        super().__init__()
        c = channels
        self.conv3_1, self.conv5_1 = nn.Conv2d(c, c, 3, padding=1), nn.Conv2d(c, c, 5, padding=2)
        self.conv3_2, self.conv5_2 = nn.Conv2d(2 * c, 2 * c, 3, padding=1), nn.Conv2d(2 * c, 2 * c, 5, padding=2)
        self.fuse = nn.Conv2d(4 * c, c, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s1, p1 = F.relu(self.conv3_1(x)), F.relu(self.conv5_1(x))
        s2 = F.relu(self.conv3_2(torch.cat([s1, p1], 1)))
        p2 = F.relu(self.conv5_2(torch.cat([p1, s1], 1)))
        return x + self.fuse(torch.cat([s2, p2], 1))


class UpBlock(nn.Module):
    """x2 up-block of TF-Dec: PixelShuffle(2) (c -> c/4), 3x3 conv back to c, MSRB."""

    def __init__(self, channels: int = 64):
        super().__init__()
        if channels % 4:
            raise ValueError(f"PixelShuffle(2) needs channels divisible by 4, got {channels}")
        self.body = nn.Sequential(nn.PixelShuffle(2), nn.Conv2d(channels // 4, channels, 3, padding=1),
                                  MSRB(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class TextureDecoder(nn.Module):
    """TF-Dec: ``(B, C, h, w) -> (B, 3, h * 2**num_up, w * 2**num_up)`` (resized to ``size`` when given).

    Head: 1x1 conv C -> 64; body: ``num_up`` :class:`UpBlock`; tail: 3x3
    conv 64 -> 3 (no output activation: the target is a normalised image).
    """

    def __init__(self, in_channels: int, num_up: int, channels: int = 64, out_channels: int = 3):
        super().__init__()
        self.head = nn.Conv2d(in_channels, channels, 1)
        self.body = nn.Sequential(*[UpBlock(channels) for _ in range(num_up)])
        self.tail = nn.Conv2d(channels, out_channels, 3, padding=1)
        self.num_up = num_up

    def forward(self, x: torch.Tensor, size: tuple[int, int] | None = None) -> torch.Tensor:
        y = self.tail(self.body(self.head(x)))
        if size is not None and tuple(y.shape[-2:]) != tuple(size):
            y = F.interpolate(y, size=tuple(size), mode="bilinear", align_corners=False)
        return y


def stage4_geometry(backbone: nn.Module) -> tuple[int, int]:
    """(channels, stride) of a backbone's ``layer3`` output (the input of ``layer4``).

    A ResNet's is read off its blocks; a :class:`reidlib.models.mobilenet.MobileNetV2Backbone`
    states its stage channels, and its ``layer3`` always ends at stride 16.
    """
    if hasattr(backbone, "stage_channels"):
        return backbone.stage_channels["layer3"], 16
    first = backbone.layer4[0]
    conv = first.conv2 if hasattr(first, "conv3") else first.conv1  # the block's strided convolution
    return first.conv1.in_channels, backbone.stride // conv.stride[0]


class FTN(ReIDModel):
    """FTN on a :class:`reidlib.models.resnet.ResNetBackbone` (see the module docstring).

    Outputs in training: ``features`` and ``logits`` (lists over the
    branches [attention,] global, local) on Re-ID batches;
    ``reconstruction`` and ``target`` (B, 3, H, W) on reconstruction
    batches; both without a task. CFA's masks ``pa_mask`` / ``ca_mask`` and
    ``cfa`` (B, 1, h, w) whenever CFA runs. In eval mode: ``embedding``
    (B, D), the L2-normalised BN features of the branches concatenated, and
    the masks; the decoder does not run.
    """

    loss_names = ("id", "triplet", "gradient", "l1")
    tasks: ClassVar = {"reid": ("id", "triplet"), "reconstruction": ("gradient", "l1")}

    def __init__(self, backbone: nn.Module, num_classes: int, options: FTNOptions | None = None,
                 label_smoothing: float = 0.0, triplet_margin: float | None = 0.3, pretrained: bool = False):
        super().__init__()
        options = options or FTNOptions()
        missing = [n for n in ("stem", "layer1", "layer2", "layer3", "layer4", "stride") if not hasattr(backbone, n)]
        if missing:
            raise ValueError(f"FTN taps a ResNet's stage 4 (layer3); the backbone lacks {', '.join(missing)}")
        self.options = options
        self.backbone = backbone
        c3, stride3 = stage4_geometry(backbone)
        c4 = backbone.out_channels
        if options.attention == "cfa":
            self.attention = CompactForegroundAttention(c3, options.cmp_n, options.use_pa, options.use_ca,
                                                        options.use_cmp, options.reduce_without_cmp)
        elif options.attention == "pamcam":
            self.attention = PAMCAM(c3)
        else:
            self.attention = None
        self.local_block = Bottleneck(c4, c4 // 4)  # expansion 4 keeps the width
        dims = ([c3] if self.attention is not None else []) + [c4, c4]
        self.necks = nn.ModuleList([BNNeck(d) for d in dims])
        self.classifiers = nn.ModuleList([nn.Linear(d, num_classes, bias=False) for d in dims])
        for layer in self.classifiers:
            _init_classifier(layer)
        self.decoder = None
        self.tasks = {"reid": ("id", "triplet")}
        if options.decoder:
            num_up = round(math.log2(stride3))
            if 2 ** num_up != stride3:
                raise ValueError(f"TF-Dec upsamples by 2 per block; stage 4's stride {stride3} is not a power of 2")
            self.decoder = TextureDecoder(c3, num_up, options.decoder_channels)
            self.tasks["reconstruction"] = ("gradient", "l1") if options.gradient_loss else ("l1",)
        self.out_dim = sum(dims)
        self.label_smoothing = label_smoothing
        self.triplet_margin = triplet_margin
        self.pretrained_modules = ("backbone",) if pretrained else ()

    @classmethod
    def from_config(cls, config, num_classes: int, num_cameras: int) -> FTN:
        opts = method_options(FTNOptions, config, config.method)
        backbone = backbone_from_config(config)
        require_stages(backbone, ("stem", "layer3", "layer4"), config,
                       "FTN puts CFA and TF-Dec on a ResNet's stage 4 (layer3 output)")
        return cls(backbone, num_classes, opts, config.loss.label_smoothing, config.loss.triplet_margin,
                   pretrained=bool(config.model.pretrained))

    def reconstruction_target(self, image: torch.Tensor, masks: dict) -> torch.Tensor:
        """The input weighted by the Gaussian and/or CFA's (detached, upsampled) masks, per ``options.target``."""
        gauss, pam, cam = TARGETS[self.options.target]
        image = image[:, :3].float()
        size = image.shape[-2:]
        weight = torch.ones(1, 1, *size, device=image.device)
        if gauss:
            weight = weight * GaussianWeight.weight(*size, self.options.gaussian_sigma).to(image.device)
        for used, key in ((pam, "pa_mask"), (cam, "ca_mask")):
            if used:  # a ground truth: no gradient flows into CFA through the target
                weight = weight * F.interpolate(masks[key].detach().float(), size=tuple(size), mode="bilinear",
                                                align_corners=False)
        return image * weight

    def forward(self, batch: dict) -> dict[str, torch.Tensor]:
        task = batch.get("task") if self.training else None
        if task is not None and task not in self.tasks:
            raise ValueError(f"FTN has tasks {sorted(self.tasks)}, not {task!r}"
                             + (" (it was built without a decoder)" if task == "reconstruction" else ""))
        image = batch["image"]
        bb = self.backbone
        stage4 = bb.layer3(bb.layer2(bb.layer1(bb.stem(image))))
        out: dict = {}
        att = self.attention(stage4) if self.attention is not None else None
        if att is not None:
            masks = {k: v for k, v in att.items() if k.endswith("_mask")}
            out.update(masks)
            if masks:
                out["cfa"] = masks.get("pa_mask", masks.get("ca_mask"))
        if not self.training or task in (None, "reid"):
            stage5 = bb.layer4(stage4)
            features = ([att["out"].mean((2, 3))] if att is not None else []) + [
                stage5.mean((2, 3)), self.local_block(stage5).amax((2, 3))]
            normed = [neck(f) for neck, f in zip(self.necks, features)]
            out["features"] = features
            if self.training:
                out["logits"] = [clf(f) for clf, f in zip(self.classifiers, normed)]
            else:
                out["embedding"] = torch.cat([F.normalize(f, dim=1) for f in normed], 1)
        if self.training and self.decoder is not None and task in (None, "reconstruction"):
            source = att["out"] if att is not None and self.options.decoder_input == "attention" else stage4
            out["reconstruction"] = self.decoder(source, tuple(image.shape[-2:]))
            out["target"] = self.reconstruction_target(image, out)
        return out

    @torch.no_grad()
    def inspect(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """For pictures (Figs. 4-5 and the reconstructions), in eval mode.

        Returns channel-mean activation maps ``stage3``, ``cfa_features``,
        ``global``, ``local`` (N, h, w); the attention mask ``cfa`` (N, h, w)
        when built; and with a decoder ``reconstruction`` and ``target``
        (N, 3, H, W), in the normalised image space.
        """
        bb = self.backbone
        stage3 = bb.layer2(bb.layer1(bb.stem(images)))
        stage4 = bb.layer3(stage3)
        stage5 = bb.layer4(stage4)
        maps = {"stage3": stage3.mean(1), "global": stage5.mean(1), "local": self.local_block(stage5).mean(1)}
        att = self.attention(stage4) if self.attention is not None else None
        masks = {}
        if att is not None:
            maps["cfa_features"] = att["out"].mean(1)
            masks = {k: v for k, v in att.items() if k.endswith("_mask")}
            if masks:
                maps["cfa"] = masks.get("pa_mask", masks.get("ca_mask"))[:, 0]
        if self.decoder is not None:
            source = att["out"] if att is not None and self.options.decoder_input == "attention" else stage4
            maps["reconstruction"] = self.decoder(source, tuple(images.shape[-2:]))
            maps["target"] = self.reconstruction_target(images, masks)
        return maps

    def losses(self, outputs: dict, batch: dict, task: str | None = None) -> dict[str, torch.Tensor]:
        if task is None:
            names = tuple(n for t in self.tasks.values() for n in t)
        elif task in self.tasks:
            names = self.tasks[task]
        else:
            raise ValueError(f"FTN has tasks {sorted(self.tasks)}, not {task!r}")
        terms = {}
        if "id" in names:
            terms["id"] = torch.stack([identity_loss(z, batch["pid"], self.label_smoothing)
                                       for z in outputs["logits"]]).mean()
        if "triplet" in names:
            terms["triplet"] = torch.stack([batch_hard_triplet(f, batch["pid"], self.triplet_margin)
                                            for f in outputs["features"]]).mean()
        if "gradient" in names:
            terms["gradient"] = gradient_loss(outputs["reconstruction"], outputs["target"])
        if "l1" in names:
            terms["l1"] = reconstruction_l1(outputs["reconstruction"], outputs["target"])
        return terms
