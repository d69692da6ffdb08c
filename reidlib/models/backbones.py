"""Backbones by the names configs use (``model.backbone``).

:func:`build_backbone` is the one place a name becomes a network;
:func:`backbone_from_config` reads the name and its settings from a
:class:`reidlib.engine.TrainConfig`, as every method's ``from_config`` does.
"""

from __future__ import annotations

from torch import nn

BACKBONES = ("resnet50", "resnet18", "resnet_small", "mobilenetv2", "mscan_body", "inception_reid")
# The methods that cut a ResNet into stages (FA-Net, FTN, FMN) run on these backbones.
NOT_STAGED = "is not staged like a ResNet: choose resnet50, resnet18, resnet_small or mobilenetv2"


def _scaled(channels, width: float) -> tuple[int, ...]:
    return tuple(max(4, round(c * width)) for c in channels)


def build_backbone(name: str, pretrained: str | None = None, last_stride: int = 1, in_channels: int = 3,
                   width: float = 1.0) -> nn.Module:
    """A backbone by name: ``resnet50``, ``resnet18``, ``resnet_small``, ``mobilenetv2``, ``mscan_body``,
    ``inception_reid``.

    ``width`` multiplies the channels of the from-scratch backbones (the cpu
    profile uses thinner ones); the torchvision ResNets and MobileNetV2 keep
    their widths so that ImageNet weights fit.
    """
    from .resnet import RESNETS, resnet_small

    if width <= 0:
        raise ValueError(f"model.width must be > 0, got {width}")
    if name in ("resnet50", "resnet18", "mobilenetv2") and width != 1.0:
        raise ValueError(f"{name} has torchvision's fixed widths (so ImageNet weights fit): model.width must be 1")
    if name == "mobilenetv2":
        from .mobilenet import mobilenet_v2_backbone

        return mobilenet_v2_backbone(last_stride, pretrained, in_channels)
    if name == "resnet_small":
        return resnet_small(last_stride, pretrained, in_channels, widths=_scaled((32, 64, 128, 256), width))
    if name in RESNETS:
        return RESNETS[name](last_stride=last_stride, pretrained=pretrained, in_channels=in_channels)
    if name in ("mscan_body", "inception_reid"):
        if pretrained:
            raise ValueError(f"{name} is trained from scratch in its paper and has no ImageNet weights: "
                             "set model.pretrained to null")
        if name == "mscan_body":
            from .mscan import MSCANBody

            return MSCANBody(in_channels, branch_channels=_scaled((32,) * 4, width),
                             stem_channels=_scaled((32,), width)[0])
        from .inception_reid import InceptionReID

        return InceptionReID(in_channels, stem_channels=_scaled((32, 32, 64), width),
                             widths=_scaled((64, 128, 256), width))
    raise ValueError(f"unknown backbone {name!r}; choose one of {', '.join(BACKBONES)}")


def backbone_from_config(config) -> nn.Module:
    """``config.model``'s backbone, with a fourth input channel when the data is RGB-M."""
    m = config.model
    return build_backbone(m.backbone, m.pretrained, m.last_stride, 4 if config.data.rgbm else 3, m.width)


def require_stages(backbone: nn.Module, stages: tuple[str, ...], config, what: str) -> None:
    """Raise ValueError saying ``what`` the method cuts when ``backbone`` lacks one of ``stages``."""
    if not all(hasattr(backbone, name) for name in stages):
        raise ValueError(f"{what}; backbone {config.model.backbone!r} {NOT_STAGED}")
