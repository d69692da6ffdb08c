"""MGCAM: the mask-guided contrastive attention model.

Paper: "Mask-guided Contrastive Attention Model for Person Re-Identification" (Song, Huang,
Ouyang and Wang, CVPR 2018); the study reads it as
``shared/papers/003_15186faffd031a44.txt`` (sections 3 and 4; ``003:N`` below is a line of
that file). MSCAN-body (:class:`reidlib.models.mscan.MSCANBody`,
trained from scratch because the four-channel RGB-M input rules out ImageNet
weights, 003:77, 166) is cut after its second stage:

* the stem and stages 1-2 are shared and give ``f_stage-2`` (003:83);
* a contrastive attention sub-net, one convolution to a single map and a
  sigmoid, turns ``f_stage-2`` into the body-aware map Phi+ (Eq. 1); the
  background-aware map is Phi- = 1 - Phi+ (Eq. 2), so the two sum to one at
  every cell;
* three streams run stages 3-4 and the fully connected layer of MSCAN-body:
  *full* on ``f_stage-2`` itself, *body* on ``f_stage-2 * Phi+`` (Eq. 3) and
  *background* on ``f_stage-2 * Phi-`` (Eq. 4); each ends in a 128-d feature
  (``h_full``, ``h_body``, ``h_bgd``, 003:83, 109) and an identity classifier
  (003:122).

Shapes (C_in = 4 for RGB-M, 3 for RGB; full width, 96 channels; at
``model.width`` 0.5 every 96 becomes 48)::

                               160x64 (paper)      128x64 (cpu profile)
    input                      (B, C_in, 160, 64)  (B, C_in, 128, 64)
    stem                       (B, 32, 80, 32)     (B, 32, 64, 32)
    stage 1                    (B, 96, 80, 32)     (B, 96, 64, 32)
    stage 2 = f_stage-2        (B, 96, 40, 16)     (B, 96, 32, 16)
    attention Phi+, Phi-       (B, 1, 40, 16)      (B, 1, 32, 16)
    per stream: stage 3        (B, 96, 20, 8)      (B, 96, 16, 8)
                stage 4        (B, 96, 10, 4)      (B, 96, 8, 4)
                head (5x2 max pool, fc)  (B, 128)  (B, 128)
                classifier     (B, num_classes)    (B, num_classes)

Loss terms (unweighted; the weights of Eq. 8, lambda = 0.01 Siamese, alpha =
0.01 region triplet, beta = 0.1 attention, 003:128-130, live in
``reidlib/configs/mgcam.yaml``):

* ``id``: cross-entropy of each stream's classifier, *summed* over the
  streams (003:122 calls L_id the total of the three streams' losses; the
  released Caffe definition gives each softmax loss weight 1). The
  background stream is trained on the person's identity too (the paper's
  "three streams ... predict the identities", 003:122; the release feeds it
  the same labels).
* ``attention`` (Eq. 5): squared error between Phi+ and the person mask
  resized to the map, summed over the map's cells as the equation is
  written and averaged over the batch. The target is the *fraction* of each
  cell covered by the person (area resize of the binary mask ``mask > 0``),
  so cells on the outline get values between 0 and 1, as the release's
  bilinear resize of a 0/255 mask does.
* ``region_triplet`` (Eq. 6): ``||h_full - h_body||^2 + max(m - ||h_full -
  h_bgd||^2, 0)`` with squared Euclidean distances on the 128-d features,
  m = ``region_margin`` = 10 (003:113), averaged over the batch.
* ``siamese`` (Eq. 7): on pairs of full-stream features within the batch:
  ``||h(p) - h(g)||^2`` for a pair of one identity, ``max(m - ||h(p) -
  h(g)||^2, 0)`` otherwise, m = ``siamese_margin`` = 10 (003:126). Pairs are
  all unordered pairs (i < j) of the batch; with ``siamese_pairs="balanced"``
  (default) the positive and the negative pairs are averaged separately and
  the two means averaged, so that the few positive pairs of a randomly drawn
  batch are not drowned by the negatives (the release builds its pair
  batches with at least 30 % positive pairs); ``"all"`` averages Eq. 7 over
  every pair. A batch without a positive (or negative) pair uses the other
  mean alone. Computed only with ``model.options.siamese``.

At test time only the shared part and the full stream run; the embedding is
``h_full`` (003:83, 142, 185), and the outputs carry ``body_map`` (Phi+) for
:func:`reidlib.eval.attention.attention_scores` (``key="body_map"``).

Our readings where the paper is silent or vague (the released Caffe
definition, ``developfeng/MGCAM`` ``experiments/*/mgcam_train.prototxt``,
is quoted as evidence; nothing is taken from its code):

* Attention kernel: Eq. 1 names a convolution ``W * f + b`` without its size;
  we use 3x3 with padding 1 and a bias (``attention_kernel=3``; the release
  uses a 3x3 convolution to one map). ``attention_kernel=1`` gives a 1x1.
* Do the streams share stages 3-4? The paper says the three features are
  "sent to the following two MSCAN stages" (003:109) and Figure 2 draws three
  streams; it never says whether their weights are tied. The release gives
  every stream its own stage-3/4, fc and classifier weights (distinct
  parameter names), and so do we by default (``share_streams=False``: the
  full stream keeps MSCAN-body's own stages 3-4 and head, the body and
  background streams start as copies of them). ``share_streams=True`` runs
  all three streams through one set of stage-3/4 and fc weights; then the BN
  layers of those stages see full, body and background maps in training and
  their running statistics mix the three, while testing runs the full
  stream alone.
* Classifiers: one per stream in both settings (003:122 puts soft-max
  regression "on the final layers of three streams"; the release has three).
* Dropout (``dropout``, the config's ``model.dropout``) acts on each feature
  before its classifier only; the region and Siamese losses see the
  features without it. (The release drops out its fc output in place, 0.2,
  so its contrastive losses see dropped-out features.)
* ``attention="hard"`` (Table 2's "Ours (hard)", 003:177, 276): Phi+ *is*
  the binary person mask at the map's size, area-resized and thresholded at
  one half (a cell is body when at least half of its pixels are, the rule of
  :func:`reidlib.eval.attention.person_grid`); it has no weights, and no
  ``attention`` term is computed.
* ``attention="none"``: plain MSCAN-body, one stream, one classifier: the
  baseline of Tables 2-3 (only ``id`` and, when enabled, ``siamese``).
* The margins follow the equations as printed (m - squared distance). The
  release instead uses Caffe's contrastive loss (``max(m - d, 0)^2`` on the
  plain distance, divided by 2N) with margin 100 for the background push and
  0.1 for the body pull; the attention loss there is Caffe's Euclidean loss,
  half of Eq. 5 summed per image.

Every row of Table 2 and the MGCAM-Siamese row of Table 3 is a set of config
overrides (:data:`ABLATION_ROWS`).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..losses import SIAMESE_PAIRS, attention_mask_loss, identity_loss, region_triplet_loss, siamese_loss
from .backbones import backbone_from_config
from .base import ReIDModel, method_options

ATTENTION_MODES = ("soft", "hard", "none")
STREAMS = ("full", "body", "background")


@dataclass
class MGCAMOptions:
    """``model.options`` of method ``mgcam``."""

    attention: str = "soft"  # soft (Eq. 1) / hard (Phi+ = the binary mask) / none (plain MSCAN-body)
    siamese: bool = False  # compute the Siamese term (Eq. 7); weigh it with loss.weights.siamese
    region_margin: float = 10.0  # m of Eq. 6 (003:113)
    siamese_margin: float = 10.0  # m of Eq. 7 (003:126)
    attention_kernel: int = 3  # kernel of the attention convolution (not stated in the paper)
    share_streams: bool = False  # one set of stage-3/4 + fc weights for the three streams
    siamese_pairs: str = "balanced"  # balanced: mean over positive pairs and mean over negative pairs, averaged

    def __post_init__(self) -> None:
        if self.attention not in ATTENTION_MODES:
            raise ValueError(f"model.options.attention must be one of {ATTENTION_MODES}, got {self.attention!r}")
        if self.siamese_pairs not in SIAMESE_PAIRS:
            raise ValueError(f"model.options.siamese_pairs must be one of {SIAMESE_PAIRS}, got {self.siamese_pairs!r}")
        if self.attention_kernel < 1 or self.attention_kernel % 2 == 0:
            raise ValueError(f"model.options.attention_kernel must be odd and >= 1 (it keeps the map's size), "
                             f"got {self.attention_kernel}")
        if self.region_margin <= 0 or self.siamese_margin <= 0:
            raise ValueError("model.options.region_margin and siamese_margin must be > 0")


# Table 2 (inputs x models, MARS, XQDA) and Table 3's MGCAM-Siamese, as config overrides
# (dotted keys, as make_config(overrides=...) takes them; ``overrides(row)`` gives --set strings).
# "Mask" feeds the mask alone as a three-channel picture (data.background mask_only); "Masked RGB"
# fills the background with the mean colour (mean_background: zero after normalisation). The MGCAM
# rows that are not Siamese drop the gpu paper settings' fine-tuning stage (schedule.stages = []).
_BASELINE = {"model.options.attention": "none", "model.options.siamese": False}
_MGCAM = {"model.options.siamese": False, "loss.weights.siamese": 0.0, "schedule.stages": []}
ABLATION_ROWS: dict[str, dict] = {
    "MSCAN-body RGB": {**_BASELINE, **_MGCAM, "data.rgbm": False, "data.background": "original"},
    "MSCAN-body Mask": {**_BASELINE, **_MGCAM, "data.rgbm": False, "data.background": "mask_only"},
    "MSCAN-body Masked RGB": {**_BASELINE, **_MGCAM, "data.rgbm": False, "data.background": "mean_background"},
    "MSCAN-body RGB-M": {**_BASELINE, **_MGCAM, "data.rgbm": True, "data.background": "original"},
    "MGCAM (hard) RGB-M": {**_MGCAM, "model.options.attention": "hard", "data.rgbm": True,
                           "data.background": "original"},
    "MGCAM RGB": {**_MGCAM, "model.options.attention": "soft", "data.rgbm": False, "data.background": "original"},
    "MGCAM RGB-M": {**_MGCAM, "model.options.attention": "soft", "data.rgbm": True, "data.background": "original"},
    # At the gpu profile the paper settings' second stage adds the Siamese loss (fine-tuning at 0.001);
    # at ci / cpu, which have one stage, it is trained jointly from the start.
    "MGCAM-Siamese RGB-M": {"model.options.attention": "soft", "model.options.siamese": True,
                            "loss.weights.siamese": 0.01, "data.rgbm": True, "data.background": "original"},
}

# Where each row's numbers are in reidlib/papers/mgcam.csv: (table, row).
PAPER_ROWS: dict[str, tuple[str, str]] = {
    "MSCAN-body RGB": ("2", "MSCAN-body RGB (XQDA)"),
    "MSCAN-body Mask": ("2", "MSCAN-body Mask (XQDA)"),
    "MSCAN-body Masked RGB": ("2", "MSCAN-body Masked RGB (XQDA)"),
    "MSCAN-body RGB-M": ("2", "MSCAN-body RGB-M (XQDA)"),
    "MGCAM (hard) RGB-M": ("2", "MGCAM (hard) RGB-M (XQDA)"),
    "MGCAM RGB": ("2", "MGCAM RGB (XQDA)"),
    "MGCAM RGB-M": ("2", "MGCAM RGB-M (XQDA)"),
    "MGCAM-Siamese RGB-M": ("3", "MGCAM-Siamese RGB-M XQDA"),
}


def overrides(row: str) -> list[str]:
    """The ``--set`` strings of an :data:`ABLATION_ROWS` row (for :func:`reidlib.ablation.run_variants`)."""
    return [f"{k}={v if isinstance(v, str) else json.dumps(v)}" for k, v in ABLATION_ROWS[row].items()]


# ----------------------------------------------------------------------------- losses (Eq. 5-7)

def person_cover(batch: dict, size: tuple[int, int]) -> torch.Tensor:
    """(B, 1, h, w): the fraction of each cell of an (h, w) grid covered by the person.

    The binary person mask is ``batch["mask"] > 0`` (part labels), or the
    fourth (mask) channel of an RGB-M image when the batch has no ``mask``.
    """
    if "mask" in batch:
        fg = batch["mask"] > 0
    elif batch["image"].shape[1] == 4:
        fg = batch["image"][:, 3] > 0.5
    else:
        raise KeyError("MGCAM needs the person mask (batch['mask'] or an RGB-M image): load the dataset with masks")
    return F.adaptive_avg_pool2d(fg[:, None].float(), tuple(size))


class MGCAM(ReIDModel):
    """MGCAM on an MSCAN-body backbone (see the module docstring).

    Args:
        backbone: an :class:`reidlib.models.mscan.MSCANBody` (``stem``, four
            ``stages``, ``head``, ``out_dim``) with 3 or 4 input channels.
        num_classes: training identities.
        options: :class:`MGCAMOptions`.
        dropout: on each stream's feature before its classifier.
        label_smoothing: of the identity losses.

    Outputs (training): ``h_full`` (B, D), ``id_logits`` (a list: full, then
    body and background when attention is on), and with attention
    ``h_body``, ``h_bgd`` (B, D), ``body_map`` (Phi+) and ``background_map``
    (Phi-), (B, 1, h, w). Eval: ``embedding`` (= ``h_full``), ``h_full`` and,
    with attention, ``body_map``.
    """

    loss_names = ("id", "attention", "region_triplet", "siamese")

    def __init__(self, backbone: nn.Module, num_classes: int, options: MGCAMOptions | None = None,
                 dropout: float = 0.0, label_smoothing: float = 0.0):
        super().__init__()
        if not all(hasattr(backbone, n) for n in ("stem", "stages", "head")) or len(backbone.stages) != 4:
            raise ValueError("MGCAM splits MSCAN-body after its second stage: the backbone needs stem, four "
                             "stages and head (model.backbone: mscan_body)")
        self.options = opts = options or MGCAMOptions()
        self.shared = nn.Sequential(backbone.stem, backbone.stages[0], backbone.stages[1])
        full = nn.Sequential(backbone.stages[2], backbone.stages[3], backbone.head)
        streams = {"full": full}
        if opts.attention != "none" and not opts.share_streams:
            streams.update(body=copy.deepcopy(full), background=copy.deepcopy(full))
        self.streams = nn.ModuleDict(streams)
        channels = backbone.stages[1][-1].out_dim
        self.attention = None
        if opts.attention == "soft":
            k = opts.attention_kernel
            self.attention = nn.Conv2d(channels, 1, k, padding=k // 2)
            nn.init.kaiming_uniform_(self.attention.weight, nonlinearity="linear")
            nn.init.zeros_(self.attention.bias)
        self.out_dim = dim = backbone.out_dim
        names = STREAMS if opts.attention != "none" else STREAMS[:1]
        self.classifiers = nn.ModuleDict({n: nn.Linear(dim, num_classes) for n in names})
        for layer in self.classifiers.values():
            nn.init.normal_(layer.weight, std=0.001)
            nn.init.zeros_(layer.bias)
        self.dropout = nn.Dropout(dropout)
        self.label_smoothing = label_smoothing
        self.needs = ("mask",) if opts.attention != "none" else ()

    @classmethod
    def from_config(cls, config, num_classes: int, num_cameras: int) -> MGCAM:
        opts = method_options(MGCAMOptions, config, config.method)
        if config.model.backbone != "mscan_body":
            raise ValueError(f"MGCAM splits MSCAN-body after its second stage; backbone {config.model.backbone!r} "
                             "is not mscan_body")
        if config.model.neck != "none" or config.model.embed_dim:
            raise ValueError("MGCAM's streams end in MSCAN-body's 128-d fc: set model.neck: none and "
                             "model.embed_dim: 0")
        weights = [config.loss.weights] + [st.loss_weights for st in config.schedule.stages if st.loss_weights]
        if not opts.siamese and any(w.get("siamese") for w in weights):
            raise ValueError("a Siamese loss weight > 0 needs model.options.siamese: true")
        return cls(backbone_from_config(config), num_classes, opts, config.model.dropout,
                   config.loss.label_smoothing)

    def _stream(self, name: str) -> nn.Module:
        return self.streams[name] if name in self.streams else self.streams["full"]

    def _body_map(self, batch: dict, f2: torch.Tensor) -> torch.Tensor:
        """Phi+, (B, 1, h, w): the sigmoid map of Eq. 1 (soft) or the binary mask at the map's size (hard)."""
        if self.options.attention == "soft":
            return torch.sigmoid(self.attention(f2))
        return (person_cover(batch, f2.shape[-2:]) >= 0.5).to(f2.dtype)

    def forward(self, batch: dict) -> dict[str, torch.Tensor]:
        f2 = self.shared(batch["image"])  # f_stage-2
        h_full = self.streams["full"](f2)
        out = {"h_full": h_full}
        attend = self.options.attention != "none"
        if attend:
            out["body_map"] = phi = self._body_map(batch, f2)
        if not self.training:
            out["embedding"] = h_full
            return out  # the body and background streams only guide training (003:142)
        logits = [self.classifiers["full"](self.dropout(h_full))]
        if attend:
            out["background_map"] = 1 - phi
            out["h_body"] = h_body = self._stream("body")(f2 * phi)
            out["h_bgd"] = h_bgd = self._stream("background")(f2 * out["background_map"])
            logits += [self.classifiers["body"](self.dropout(h_body)),
                       self.classifiers["background"](self.dropout(h_bgd))]
        out["id_logits"] = logits
        return out

    @torch.no_grad()
    def attention_map(self, batch: dict) -> torch.Tensor:
        """Phi+ of a batch, (B, 1, h, w) in [0, 1], for pictures and scoring (no gradients)."""
        if self.options.attention == "none":
            raise ValueError("this MGCAM has no attention map (model.options.attention is 'none')")
        return self._body_map(batch, self.shared(batch["image"]))

    def losses(self, outputs: dict, batch: dict, task: str | None = None) -> dict[str, torch.Tensor]:
        opts, pids = self.options, batch["pid"]
        terms = {"id": sum(identity_loss(z, pids, self.label_smoothing) for z in outputs["id_logits"])}
        if opts.attention != "none":
            terms["region_triplet"] = region_triplet_loss(outputs["h_full"], outputs["h_body"], outputs["h_bgd"],
                                                          opts.region_margin)
        if opts.attention == "soft":
            body_map = outputs["body_map"]
            terms["attention"] = attention_mask_loss(body_map, person_cover(batch, body_map.shape[-2:]))
        if opts.siamese:
            terms["siamese"] = siamese_loss(outputs["h_full"], pids, opts.siamese_margin, opts.siamese_pairs)
        return terms
