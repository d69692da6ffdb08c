"""The Inception-style whole-person network of the background-bias paper.

The background-bias paper ("Eliminating Background-Bias for Robust Person
Re-Identification", Tian et al., CVPR 2018; ``shared/papers/002_78d1ed02bf80c7ea.txt``,
section 3.1) builds its person-region guided pooling network on a small BN-Inception
network in the style of JSTL / domain guided dropout ("Learning Deep Feature
Representations with Domain Guided Dropout for Person Re-identification", Xiao, Li,
Ouyang and Wang, CVPR 2016): a three-layer convolutional stem and three inception modules, each
halving the spatial size, then pooling and a fully connected layer. The
person-region sub-network gates the output of Inception-1 with head /
upper-torso / lower-torso masks and runs its own copies of Inception-2,
Inception-3 and the head on each gated map, so those pieces are separate
attributes here.

Numbers stated by the paper (line numbers in ``002_78d1ed02bf80c7ea.txt``):

* input 96 x 96 x 3 (line 218);
* three convolutions with 5x5 kernels, then a 2x2 max pool (lines 219-220),
  giving 64 x 48 x 48 maps (line 221): the last stem convolution has 64
  channels and all three keep the size (padding 2);
* three inception modules, each halving the resolution and made of two
  blocks, the first with four convolutional paths and the second with three
  (lines 221-226); at 96x96 they end at 48 -> 24 -> 12 -> 6;
* a 6x6 average pooling and a fully connected layer giving a 256-d feature
  (lines 226-228);
* ReLU activations, each followed by BatchNorm (lines 228-230), so a layer
  here is conv -> ReLU -> BN (JSTL's released definition orders it conv ->
  BN -> ReLU; we follow the paper's wording);
* the parsing masks gate the output of Inception-1, and each region branch
  repeats Inception-2, Inception-3, global pooling and the fc layer with its
  own parameters and a 256-d output (lines 233-247).

Our choices where the paper is silent:

* stem widths 32, 32, 64: only the last (64) is stated; the first two follow
  JSTL's 32-channel stem convolutions;
* the inside of a module follows JSTL's released Caffe definition
  (``Cysu/dgd_person_reid``, ``models/jstl/jstl_deploy.prototxt``), which the
  paper's "four convolutions, then three" matches when counted per branch:
  block A has a 1x1, a 1x1 -> 3x3, a 1x1 -> 3x3 -> 3x3 and a 3x3 average
  pool -> 1x1 branch, all of width ``w`` and at stride 1 (``4w`` channels
  out); block B has a 1x1 -> 3x3 (stride 2), a 1x1 -> 3x3 -> 3x3 (stride 2)
  and a 3x3 max pool (stride 2) branch that passes its input through
  (``2w + 4w = 6w`` channels out). We read "the same number of input and
  output channels" as every convolution in a module having the one width
  ``w`` (true of JSTL, and for Inception-1 ``w`` equals its 64 input
  channels) and take JSTL's widths 64, 128 and 256;
* the B-block max pool has padding 1 so that its output matches the strided
  convolutions at any input size (Caffe's ceil-mode pooling without padding
  agrees at even sizes only);
* the 6x6 average pooling is an adaptive average pool to 1x1: identical at
  96x96, where the last map is 6x6, and also valid at 128x64 (an 8x4 map,
  which a 6x6 window cannot cover);
* the fc layer is followed by ReLU and BatchNorm (the paper's rule for the
  main network; JSTL's fc7 also has BN + ReLU) and an optional dropout
  (JSTL used 0.5; default 0 here);
* weights use Caffe's default "xavier" filler (variance 1 / fan_in), biases 0.

Shapes for the paper's 96x96 input (C_in = 3 for RGB, 4 for RGB + mask)::

    input                                        (B, C_in, 96, 96)
    stem        3 x conv5x5 (32, 32, 64), pool   (B, 64, 48, 48)
    inception1  A (w=64)   -> (B, 256, 48, 48)
                B (w=64)   ->                    (B, 384, 24, 24)   <- gated by the region masks
    inception2  A (w=128)  -> (B, 512, 24, 24)
                B (w=128)  ->                    (B, 768, 12, 12)
    inception3  A (w=256)  -> (B, 1024, 12, 12)
                B (w=256)  ->                    (B, 1536, 6, 6)
    head        avg pool, fc, ReLU, BN, dropout  (B, 256)

At 128x64 the maps are 64x32, 32x16, 16x8 and 8x4 (total stride 16).
"""

from __future__ import annotations

import torch
from torch import nn

from .init import caffe_xavier_

__all__ = ["InceptionA", "InceptionB", "InceptionReID", "inception_reid"]


class ConvReLUBN(nn.Sequential):
    """Convolution -> ReLU -> BatchNorm (the paper's order); keeps its bias because no BN precedes the ReLU."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1) -> None:
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=kernel_size // 2),
            nn.ReLU(inplace=True),
            nn.BatchNorm2d(out_channels),
        )


class InceptionA(nn.Module):
    """Stride-1 block with four branches: ``(B, C, H, W) -> (B, 4 * width, H, W)``."""

    def __init__(self, in_channels: int, width: int) -> None:
        super().__init__()
        self.branch1x1 = ConvReLUBN(in_channels, width, 1)
        self.branch3x3 = nn.Sequential(ConvReLUBN(in_channels, width, 1), ConvReLUBN(width, width, 3))
        self.branch3x3dbl = nn.Sequential(
            ConvReLUBN(in_channels, width, 1), ConvReLUBN(width, width, 3), ConvReLUBN(width, width, 3)
        )
        self.branch_pool = nn.Sequential(nn.AvgPool2d(3, stride=1, padding=1), ConvReLUBN(in_channels, width, 1))
        self.out_dim = 4 * width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branches = (self.branch1x1, self.branch3x3, self.branch3x3dbl, self.branch_pool)
        return torch.cat([branch(x) for branch in branches], dim=1)


class InceptionB(nn.Module):
    """Stride-2 block with three branches: ``(B, C, H, W) -> (B, 2 * width + C, ceil(H/2), ceil(W/2))``."""

    def __init__(self, in_channels: int, width: int) -> None:
        super().__init__()
        self.branch3x3 = nn.Sequential(ConvReLUBN(in_channels, width, 1), ConvReLUBN(width, width, 3, stride=2))
        self.branch3x3dbl = nn.Sequential(
            ConvReLUBN(in_channels, width, 1), ConvReLUBN(width, width, 3), ConvReLUBN(width, width, 3, stride=2)
        )
        # Padding 1 gives the strided convolutions' output size at odd sizes too.
        self.branch_pool = nn.MaxPool2d(3, stride=2, padding=1)
        self.out_dim = 2 * width + in_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch3x3(x), self.branch3x3dbl(x), self.branch_pool(x)], dim=1)


def _inception_module(in_channels: int, width: int) -> nn.Sequential:
    """Block A then block B: ``(B, C, H, W) -> (B, 6 * width, H/2, W/2)``."""
    block_a = InceptionA(in_channels, width)
    return nn.Sequential(block_a, InceptionB(block_a.out_dim, width))


class InceptionReID(nn.Module):
    """Whole-person main network: ``(B, C_in, H, W) -> (B, feature_dim)``, C_in = 3 or 4.

    Designed for 96x96 inputs (the paper's size); any input of at least 16x16
    works, e.g. 128x64. See the module docstring for the shapes at each
    boundary and for which numbers come from the paper.

    Args:
        in_channels: 3 for RGB, 4 for RGB + mask.
        feature_dim: size of the output feature (256 in the paper).
        dropout: dropout on the output feature (JSTL used 0.5).
        stem_channels: output channels of the three 5x5 convolutions.
        widths: branch width of Inception-1, -2 and -3.

    Attributes:
        stem: ``(B, C_in, 96, 96) -> (B, 64, 48, 48)``.
        inception1: ``-> (B, 384, 24, 24)``; the map the region masks gate.
        inception2: ``-> (B, 768, 12, 12)``.
        inception3: ``-> (B, 1536, 6, 6)``.
        head: average pooling, fc, ReLU, BN, dropout: ``(B, 1536, h, w) -> (B, feature_dim)``.
        stage_channels: output channels of inception1..3, ``(384, 768, 1536)``.
        out_dim: ``feature_dim``.

    Region branches (background-bias paper): gate the Inception-1 output
    with a mask resized to its size, then run copies of the later pieces::

        f1 = net.inception1(net.stem(x))                               # (B, 384, 24, 24)
        g = F.interpolate(mask, size=f1.shape[-2:], mode="nearest")    # (B, 1, 24, 24)
        h = branch.head(branch.inception3(branch.inception2(f1 * g)))  # (B, 256)

    where ``branch`` is e.g. ``copy.deepcopy(net)`` (only its inception2,
    inception3 and head are used).

    Parameter counts (the tests check these against the model):

    * ``inception_reid(in_channels=3)``: 6,822,112 parameters
    * ``inception_reid(in_channels=4)``: 6,822,912 parameters
    """

    def __init__(
        self,
        in_channels: int = 3,
        feature_dim: int = 256,
        dropout: float = 0.0,
        stem_channels: tuple[int, int, int] = (32, 32, 64),
        widths: tuple[int, int, int] = (64, 128, 256),
    ) -> None:
        super().__init__()
        if in_channels not in (3, 4):
            raise ValueError(
                f"InceptionReID takes 3 (RGB) or 4 (RGB + mask) input channels, got in_channels={in_channels}"
            )
        c1, c2, c3 = stem_channels
        self.stem = nn.Sequential(
            ConvReLUBN(in_channels, c1, 5), ConvReLUBN(c1, c2, 5), ConvReLUBN(c2, c3, 5), nn.MaxPool2d(2)
        )
        self.inception1 = _inception_module(c3, widths[0])
        self.inception2 = _inception_module(self.inception1[-1].out_dim, widths[1])
        self.inception3 = _inception_module(self.inception2[-1].out_dim, widths[2])
        self.stage_channels = tuple(m[-1].out_dim for m in (self.inception1, self.inception2, self.inception3))
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(1),
            nn.Linear(self.stage_channels[-1], feature_dim),
            nn.ReLU(inplace=True),
            nn.BatchNorm1d(feature_dim),
            nn.Dropout(dropout),
        )
        self.out_dim = feature_dim
        caffe_xavier_(self)  # as the released Caffe definition, trained from scratch

    def forward_stages(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The maps after stem, inception1, inception2 and inception3; at 96x96:
        (B, 64, 48, 48), (B, 384, 24, 24), (B, 768, 12, 12), (B, 1536, 6, 6)."""
        maps = [self.stem(x)]
        for module in (self.inception1, self.inception2, self.inception3):
            maps.append(module(maps[-1]))
        return maps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C_in, H, W) -> (B, feature_dim)``."""
        return self.head(self.inception3(self.inception2(self.inception1(self.stem(x)))))


def inception_reid(in_channels: int = 3, feature_dim: int = 256, **kwargs) -> InceptionReID:
    """The background-bias paper's main network: 96x96 input, 256-d feature.

    ``kwargs`` go to :class:`InceptionReID`.
    """
    return InceptionReID(in_channels=in_channels, feature_dim=feature_dim, **kwargs)
