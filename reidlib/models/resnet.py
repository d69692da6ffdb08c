"""ResNet backbones: torchvision's ResNet-50 / ResNet-18 with the last stride set to 1, and a small ResNet.

A backbone here maps images to a feature map, ``(B, 3, H, W) -> (B, C, H/16, W/16)``
with the last stride 1 (``H/32`` with stride 2); the heads in
:mod:`reidlib.models.baselines` pool it. The stages are kept as attributes
(``stem``, ``layer1`` .. ``layer4``) because several methods tap or mask an
intermediate map (FMN masks Pool1 / Res2 / Res3 / Res4 of its GRN).

Pretrained weights are never downloaded: ``pretrained`` is the path of a
torchvision ImageNet state dict you copied to this machine.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn
from torchvision.models import resnet18 as tv_resnet18
from torchvision.models import resnet50 as tv_resnet50
from torchvision.models.resnet import BasicBlock

WEIGHTS_HELP = (
    "copy torchvision's ImageNet weights to this machine (on a machine with internet: "
    "`python -c \"import torchvision; torchvision.models.{arch}(weights='IMAGENET1K_V1')\"` "
    "saves them under ~/.cache/torch/hub/checkpoints/) and pass that file's path"
)


class StagedBackbone(nn.Module):
    """A backbone in five stages, ``stem`` and ``layer1`` .. ``layer4``, run one after another.

    What FA-Net, FTN and FMN cut, tap or mask; :class:`ResNetBackbone` and
    :class:`reidlib.models.mobilenet.MobileNetV2Backbone` set the stages.
    """

    stem: nn.Module
    layer1: nn.Module
    layer2: nn.Module
    layer3: nn.Module
    layer4: nn.Module

    def forward_stages(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The maps after stem, layer1, layer2, layer3 and layer4."""
        maps = [self.stem(x)]
        for layer in (self.layer1, self.layer2, self.layer3, self.layer4):
            maps.append(layer(maps[-1]))
        return maps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer4(self.layer3(self.layer2(self.layer1(self.stem(x)))))


class ResNetBackbone(StagedBackbone):
    """A ResNet without its pooling and classifier: ``(B, C_in, H, W) -> (B, out_channels, h, w)``.

    Attributes:
        stem: conv + BN + ReLU (+ max pool), the "Pool1" output.
        layer1 .. layer4: the four residual stages ("Res2" .. "Res5" in Caffe naming).
        out_channels: channels of the output map.
        stride: total downsampling factor (16 with last stride 1).
    """

    def __init__(self, stem: nn.Module, layers: list[nn.Module], out_channels: int, stride: int):
        super().__init__()
        self.stem = stem
        self.layer1, self.layer2, self.layer3, self.layer4 = layers
        self.out_channels = out_channels
        self.stride = stride


def _set_last_stride(layer4: nn.Sequential, stride: int) -> None:
    """Set the stride of a torchvision stage's first block (conv and shortcut)."""
    block = layer4[0]
    conv = block.conv2 if hasattr(block, "conv3") else block.conv1  # Bottleneck strides its 3x3
    conv.stride = (stride, stride)
    if block.downsample is not None:
        block.downsample[0].stride = (stride, stride)


def load_imagenet_weights(model: nn.Module, path: str | os.PathLike, arch: str) -> None:
    """Load a torchvision ImageNet state dict into ``model`` (its ``fc`` is ignored).

    Raises FileNotFoundError naming the path when the file is missing, and
    ValueError when the file holds weights of another architecture.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"ImageNet weights for {arch} not found at {path}: {WEIGHTS_HELP.format(arch=arch)}")
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    state = {k.removeprefix("module."): v for k, v in state.items() if not k.startswith("fc.")}
    own = model.state_dict()
    missing = sorted(k for k in set(own) - set(state) if not k.startswith("fc."))
    wrong = sorted(k for k in state if k in own and state[k].shape != own[k].shape)
    unexpected = sorted(set(state) - set(own))
    if missing or wrong or unexpected:
        details = "; ".join(f"{name}: {keys[:3]}{' ...' if len(keys) > 3 else ''}"
                            for name, keys in (("missing", missing), ("wrong shape", wrong),
                                               ("unexpected", unexpected)) if keys)
        raise ValueError(f"{path} does not hold torchvision {arch} weights ({details}); {WEIGHTS_HELP.format(arch=arch)}")
    model.load_state_dict(state, strict=False)


def _from_torchvision(builder, arch: str, last_stride: int, pretrained, in_channels: int, out_channels: int):
    net = builder(weights=None)
    if pretrained:
        load_imagenet_weights(net, pretrained, arch)
    if in_channels != 3:
        # An extra input channel (RGB-M) starts at zero so pretrained RGB behaviour is kept.
        old = net.conv1
        net.conv1 = nn.Conv2d(in_channels, 64, 7, 2, 3, bias=False)
        with torch.no_grad():
            net.conv1.weight.zero_()
            net.conv1.weight[:, :3] = old.weight
    _set_last_stride(net.layer4, last_stride)
    stem = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool)
    return ResNetBackbone(stem, [net.layer1, net.layer2, net.layer3, net.layer4], out_channels, 16 * last_stride)


def resnet50(last_stride: int = 1, pretrained: str | os.PathLike | None = None, in_channels: int = 3) -> ResNetBackbone:
    """ResNet-50, 2048 channels out; 256x128 input gives a 16x8 map with last stride 1."""
    return _from_torchvision(tv_resnet50, "resnet50", last_stride, pretrained, in_channels, 2048)


def resnet18(last_stride: int = 1, pretrained: str | os.PathLike | None = None, in_channels: int = 3) -> ResNetBackbone:
    """ResNet-18, 512 channels out; 256x128 input gives a 16x8 map with last stride 1."""
    return _from_torchvision(tv_resnet18, "resnet18", last_stride, pretrained, in_channels, 512)


def resnet_small(last_stride: int = 1, pretrained: str | os.PathLike | None = None, in_channels: int = 3,
                 widths: tuple[int, int, int, int] = (32, 64, 128, 256)) -> ResNetBackbone:
    """A ResNet-10-sized network for the cpu profile: one BasicBlock per stage.

    The stem is a 3x3 convolution with stride 2 and no max pool, because the
    cpu profile's 128x64 images are small; the total stride is 8 with the
    last stride 1, so 128x64 gives a 16x8 map with ``widths[-1]`` channels,
    the same map size as ResNet-50 at 256x128. It has no pretrained weights.
    """
    if pretrained:
        raise ValueError("resnet_small has no ImageNet weights: set model.pretrained to null")
    stem = nn.Sequential(nn.Conv2d(in_channels, widths[0], 3, 2, 1, bias=False), nn.BatchNorm2d(widths[0]),
                         nn.ReLU(inplace=True))
    layers, inplanes = [], widths[0]
    for i, planes in enumerate(widths):
        stride = 1 if i == 0 else (last_stride if i == 3 else 2)
        down = None
        if stride != 1 or inplanes != planes:
            down = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))
        layers.append(nn.Sequential(BasicBlock(inplanes, planes, stride, down)))
        inplanes = planes
    net = ResNetBackbone(stem, layers, widths[-1], 8 * last_stride)
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
    return net


RESNETS = {"resnet50": resnet50, "resnet18": resnet18, "resnet_small": resnet_small}
