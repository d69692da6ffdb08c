"""MSCAN-body: the multi-scale context-aware network.

Paper: "Learning Deep Context-aware Features over Body and Latent Parts for Person
Re-identification" (Li, Chen, Zhang and Huang, CVPR 2017).

MGCAM trains this network from scratch as its base network because its
RGB-M (four-channel) input rules out ImageNet weights (MGCAM paper, lines 77
and 166 of ``shared/papers/003_15186faffd031a44.txt``). The network is a 5x5
stem followed by four *multi-scale context-aware* stages; in each stage three
3x3 convolutions with dilation 1, 2 and 3 look at the same map with growing
receptive fields and their outputs are concatenated. A fully connected layer
fuses the last map into a 128-d feature.

Where the numbers come from:

* MGCAM paper (``003_15186faffd031a44.txt``): four multi-scale context-aware
  stages and one fully connected layer (line 79); the map after stage 2 is
  96 x 40 x 16 for a 160x64 input (line 83), so stage 2 runs at 1/4 of the
  input size with 96 = 3 x 32 channels; the feature is 128-d (lines 83, 109,
  142, 185); attention sits between stage 2 and the last two stages (lines
  83, 109).
* The authors' released Caffe definition (``developfeng/MGCAM``,
  ``evaluation/deploy_mgcam.prototxt``), used where the paper is silent:
  160x64 input; a 5x5 stem convolution with 32 channels, BN, ReLU and a 2x2
  max pool; 32 channels per dilation branch in *every* stage (so 96 channels
  throughout); a 2x2 max pool before stages 2, 3 and 4 and after stage 4;
  the fully connected layer reads the flattened 96 x 5 x 2 map; dropout 0.2
  after it; "xavier" initialisation. This agrees with the MGCAM text above.
* Our choices: convolutions before a BatchNorm have no bias (the BN shift
  makes it redundant); BN keeps its affine parameters (Caffe's bare
  ``BatchNorm`` layer has none); one BN over the concatenated branches, which
  is the same per-channel normalisation as the released per-branch BNs; the
  dropout defaults to 0 (pass ``dropout=0.2`` for the released setting)
  because the methods put their own regularisation on top; the head's 2x2
  max pool is an adaptive max pool to a 5x2 grid, identical at 160x64 and
  able to take other input sizes; ``pool="avg"`` swaps it for global average
  pooling (a 96 -> 128 layer) as an alternative.

Shapes for the 160x64 input (C_in = 3 for RGB, 4 for RGB-M)::

    input                                  (B, C_in, 160, 64)
    stem    conv5x5 32 + BN + ReLU, pool   (B, 32, 80, 32)
    stage1  multi-scale block              (B, 96, 80, 32)
    stage2  pool, multi-scale block        (B, 96, 40, 16)   <- MGCAM's f_stage-2
    stage3  pool, multi-scale block        (B, 96, 20, 8)
    stage4  pool, multi-scale block        (B, 96, 10, 4)
    head    max pool to 5x2, flatten, fc   (B, 128)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import nn

from .init import caffe_xavier_

__all__ = ["MSCANBody", "MultiScaleContextBlock", "mscan_body"]

# The head's pooled grid: the released network max-pools the 10x4 stage-4 map
# of a 160x64 input to 5x2 before its fully connected layer.
HEAD_GRID = (5, 2)


class MultiScaleContextBlock(nn.Module):
    """Parallel dilated 3x3 convolutions, concatenated, then BN + ReLU.

    ``(B, in_channels, H, W) -> (B, len(dilations) * branch_channels, H, W)``;
    padding equals the dilation so every branch keeps the spatial size.
    """

    def __init__(self, in_channels: int, branch_channels: int, dilations: Sequence[int] = (1, 2, 3)) -> None:
        super().__init__()
        self.branches = nn.ModuleList(
            nn.Conv2d(in_channels, branch_channels, 3, padding=d, dilation=d, bias=False) for d in dilations
        )
        self.out_dim = branch_channels * len(dilations)
        self.bn = nn.BatchNorm2d(self.out_dim)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.bn(torch.cat([branch(x) for branch in self.branches], dim=1)))


class MSCANBody(nn.Module):
    """MSCAN-body: ``(B, C_in, H, W) -> (B, feature_dim)``, C_in = 3 (RGB) or 4 (RGB-M).

    Designed for 160x64 inputs; any input of at least 32x16 works (the head's
    pooling is adaptive). See the module docstring for the per-stage shapes
    and for which numbers come from the papers.

    Args:
        in_channels: 3 for RGB, 4 for RGB + mask.
        feature_dim: size of the output feature (128 in MGCAM).
        branch_channels: channels of each dilation branch, per stage; a stage
            outputs three times as many.
        stem_channels: output channels of the 5x5 stem convolution.
        pool: ``"grid"`` (released network: max pool to a 5x2 grid, flatten,
            fc) or ``"avg"`` (global average pooling, fc).
        dropout: dropout on the output feature (0.2 in the released network).

    Attributes:
        stem: 5x5 conv + BN + ReLU + 2x2 max pool, ``(B, C_in, H, W) -> (B, 32, H/2, W/2)``.
        stages: the four multi-scale stages (an ``nn.ModuleList``; also
            reachable as ``stage1`` .. ``stage4``). Stages 2-4 *begin* with
            their 2x2 max pool, so ``stages[1]`` ends at 1/4 of the input
            size: (B, 96, 40, 16) at 160x64, MGCAM's ``f_stage-2``.
        head: pooling, flatten, fc, dropout: ``(B, 96, h, w) -> (B, feature_dim)``.
        stage_channels: output channels of each stage, ``(96, 96, 96, 96)``.
        out_dim: ``feature_dim``.

    Splitting the network (MGCAM): attention multiplies the output of
    ``stages[1]``, and each stream then runs its own copy of ``stages[2:]``
    and ``head``::

        f2 = net.stages[1](net.stages[0](net.stem(x)))        # (B, 96, 40, 16)
        h = net.head(net.stages[3](net.stages[2](f2 * att)))  # (B, 128)

    Parameter counts (the tests check these against the model):

    * ``mscan_body(in_channels=3)``: 402,720 parameters
    * ``mscan_body(in_channels=4)``: 403,520 parameters
    * ``mscan_body(in_channels=4, pool="avg")``: 292,928 parameters
    """

    def __init__(
        self,
        in_channels: int = 3,
        feature_dim: int = 128,
        branch_channels: Sequence[int] = (32, 32, 32, 32),
        stem_channels: int = 32,
        pool: Literal["grid", "avg"] = "grid",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if in_channels not in (3, 4):
            raise ValueError(f"MSCANBody takes 3 (RGB) or 4 (RGB + mask) input channels, got in_channels={in_channels}")
        if len(branch_channels) != 4:
            raise ValueError(f"branch_channels needs one entry per stage (4), got {tuple(branch_channels)}")
        if pool not in ("grid", "avg"):
            raise ValueError(f"unknown pool {pool!r}; choose 'grid' or 'avg'")

        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, stem_channels, 5, padding=2, bias=False),
            nn.BatchNorm2d(stem_channels),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
        )
        stages, channels = [], stem_channels
        for i, width in enumerate(branch_channels):
            block = MultiScaleContextBlock(channels, width)
            # Pooling opens stages 2-4 (not closes stages 1-3) so that stage 2's
            # output is the full-resolution map MGCAM attends to.
            stages.append(nn.Sequential(block) if i == 0 else nn.Sequential(nn.MaxPool2d(2), block))
            channels = block.out_dim
        self.stages = nn.ModuleList(stages)
        self.stage_channels = tuple(stage[-1].out_dim for stage in self.stages)

        if pool == "grid":
            pooling, fc_in = nn.AdaptiveMaxPool2d(HEAD_GRID), channels * HEAD_GRID[0] * HEAD_GRID[1]
        else:
            pooling, fc_in = nn.AdaptiveAvgPool2d(1), channels
        self.head = nn.Sequential(pooling, nn.Flatten(1), nn.Linear(fc_in, feature_dim), nn.Dropout(dropout))
        self.out_dim = feature_dim
        caffe_xavier_(self)  # as the released Caffe definition, trained from scratch

    @property
    def stage1(self) -> nn.Module:
        return self.stages[0]

    @property
    def stage2(self) -> nn.Module:
        return self.stages[1]

    @property
    def stage3(self) -> nn.Module:
        return self.stages[2]

    @property
    def stage4(self) -> nn.Module:
        return self.stages[3]

    def forward_stages(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The four stage outputs; at 160x64: (B, 96, 80, 32), (B, 96, 40, 16), (B, 96, 20, 8), (B, 96, 10, 4)."""
        maps, x = [], self.stem(x)
        for stage in self.stages:
            x = stage(x)
            maps.append(x)
        return maps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C_in, H, W) -> (B, feature_dim)``."""
        x = self.stem(x)
        for stage in self.stages:
            x = stage(x)
        return self.head(x)


def mscan_body(in_channels: int = 3, feature_dim: int = 128, **kwargs) -> MSCANBody:
    """MSCAN-body as used by MGCAM: 160x64 input, 128-d feature (``kwargs`` go to :class:`MSCANBody`)."""
    return MSCANBody(in_channels=in_channels, feature_dim=feature_dim, **kwargs)
