"""Backbones and methods by the names configs use.

``build_model(config, num_classes, num_cameras)`` is the one place the
engine turns a :class:`reidlib.engine.TrainConfig` into a network. A method
registers a builder ``(config, num_classes, num_cameras) -> ReIDModel`` in
:data:`METHODS`; its own settings live in ``config.model.options`` and are
checked against the method's options dataclass, so a misspelt option fails
by name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from .base import ReIDModel
from .baselines import IDE, GlobalLocal


def _scaled(channels, width: float) -> tuple[int, ...]:
    return tuple(max(4, round(c * width)) for c in channels)


def build_backbone(name: str, pretrained: str | None = None, last_stride: int = 1, in_channels: int = 3,
                   width: float = 1.0) -> nn.Module:
    """A backbone by name: ``resnet50``, ``resnet18``, ``resnet_small``, ``mobilenetv2``, ``mscan_body``,
    ``inception_reid``.

    ``width`` multiplies the channels of the from-scratch backbones (the cpu
    profile uses thinner ones); the torchvision ResNets keep their widths so
    that ImageNet weights fit.
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


BACKBONES = ("resnet50", "resnet18", "resnet_small", "mobilenetv2", "mscan_body", "inception_reid")
# The methods that cut a ResNet into stages (FA-Net, FTN, FMN) run on these backbones.
NOT_STAGED = "is not staged like a ResNet: choose resnet50, resnet18, resnet_small or mobilenetv2"


def method_options(cls, config, method: str):
    """``config.model.options`` as the dataclass ``cls``; unknown options raise by name."""
    from ..engine.config import build

    return build(cls, config.model.options, f"model.options (method {method})")


@dataclass
class NoOptions:
    """For methods without options of their own."""


def _backbone_of(config) -> nn.Module:
    in_channels = 4 if config.data.rgbm else 3
    m = config.model
    return build_backbone(m.backbone, m.pretrained, m.last_stride, in_channels, m.width)


def build_ide(config, num_classes: int, num_cameras: int) -> ReIDModel:
    method_options(NoOptions, config, config.method)
    m = config.model
    return IDE(_backbone_of(config), num_classes, m.embed_dim, m.neck, m.dropout, config.loss.label_smoothing,
               config.loss.triplet_margin, pretrained=bool(m.pretrained),
               use_triplet=bool(config.loss.weights.get("triplet", 0.0)))


def build_global_local(config, num_classes: int, num_cameras: int) -> ReIDModel:
    method_options(NoOptions, config, config.method)
    return GlobalLocal(_backbone_of(config), num_classes, config.loss.label_smoothing, config.loss.triplet_margin, pretrained=bool(config.model.pretrained))


def build_fanet(config, num_classes: int, num_cameras: int) -> ReIDModel:
    from .fanet import FANet, FANetOptions

    opts = method_options(FANetOptions, config, config.method)
    backbone = _backbone_of(config)
    if not hasattr(backbone, "layer3"):
        raise ValueError(f"FA-Net splits a ResNet before layer3; backbone {config.model.backbone!r} {NOT_STAGED}")
    return FANet(backbone, num_classes, num_cameras, opts, config.loss.label_smoothing,
                 pretrained=bool(config.model.pretrained))


def build_ftn(config, num_classes: int, num_cameras: int) -> ReIDModel:
    from .ftn import FTN, FTNOptions

    opts = method_options(FTNOptions, config, config.method)
    backbone = _backbone_of(config)
    if not all(hasattr(backbone, n) for n in ("stem", "layer3", "layer4")):
        raise ValueError(f"FTN puts CFA and TF-Dec on a ResNet's stage 4 (layer3 output); backbone "
                         f"{config.model.backbone!r} {NOT_STAGED}")
    return FTN(backbone, num_classes, opts, config.loss.label_smoothing, config.loss.triplet_margin,
               pretrained=bool(config.model.pretrained))


def build_bgbias(config, num_classes: int, num_cameras: int) -> ReIDModel:
    from .bgbias import BgBiasOptions, PartGuidedNet

    opts = method_options(BgBiasOptions, config, config.method)
    main = _backbone_of(config)
    if not hasattr(main, "inception1"):
        raise ValueError(f"the guided-pooling network gates Inception-1 of the Inception-style main network: "
                         f"set model.backbone to inception_reid, not {config.model.backbone!r}")
    return PartGuidedNet(main, num_classes, opts, config.loss.label_smoothing)


def build_fmn(config, num_classes: int, num_cameras: int) -> ReIDModel:
    from .fmn import FMN, FMNOptions

    opts = method_options(FMNOptions, config, config.method)
    backbone = _backbone_of(config)
    if not all(hasattr(backbone, n) for n in ("stem", "layer1", "layer2", "layer3", "layer4")):
        raise ValueError(f"FMN masks Pool1 / Res2 / Res3 / Res4 of a ResNet; backbone {config.model.backbone!r} "
                         f"{NOT_STAGED}")
    m = config.model
    if m.neck != "none" or m.embed_dim or m.dropout:
        raise ValueError("FMN's GRN is the plain IDE (pooling + classifier): set model.neck: none, embed_dim: 0, dropout: 0")
    return FMN(backbone, num_classes, opts, (config.data.height, config.data.width),
               config.loss.label_smoothing, pretrained=bool(m.pretrained))


def build_mgcam(config, num_classes: int, num_cameras: int) -> ReIDModel:
    from .mgcam import MGCAM, MGCAMOptions

    opts = method_options(MGCAMOptions, config, config.method)
    if config.model.backbone != "mscan_body":
        raise ValueError(f"MGCAM splits MSCAN-body after its second stage; backbone {config.model.backbone!r} "
                         "is not mscan_body")
    if config.model.neck != "none" or config.model.embed_dim:
        raise ValueError("MGCAM's streams end in MSCAN-body's 128-d fc: set model.neck: none and model.embed_dim: 0")
    weights = [config.loss.weights] + [st.loss_weights for st in config.schedule.stages if st.loss_weights]
    if not opts.siamese and any(w.get("siamese") for w in weights):
        raise ValueError("a Siamese loss weight > 0 needs model.options.siamese: true")
    return MGCAM(_backbone_of(config), num_classes, opts, config.model.dropout, config.loss.label_smoothing)


# The baselines: ``mscan_body`` and ``dgd`` are the IDE head on the backbones their papers
# use (their configs choose the backbone); ``bot`` is the IDE head with BoT's BN neck and losses.
METHODS: dict[str, Callable[..., ReIDModel]] = {
    "ide": build_ide,
    "bot": build_ide,
    "global_local": build_global_local,
    "mscan_body": build_ide,
    "dgd": build_ide,
    "fanet": build_fanet,
    "ftn": build_ftn,
    "bgbias": build_bgbias,
    "mgcam": build_mgcam,
    "fmn": build_fmn,
}


def build_model(config, num_classes: int, num_cameras: int) -> ReIDModel:
    """The network of ``config.method`` for a training set of ``num_classes`` identities."""
    from ..engine.config import ConfigError

    if config.method not in METHODS:
        raise ConfigError(f"unknown method {config.method!r}; choose one of {', '.join(sorted(METHODS))}")
    model = METHODS[config.method](config, num_classes, num_cameras)
    unknown = sorted(k for k in config.loss.weights if k not in model.loss_names)
    if unknown:
        raise ConfigError(f"loss.weights names {', '.join(unknown)}, which method {config.method!r} does not "
                         f"compute; its loss terms are {', '.join(model.loss_names)}")
    return model
