"""Methods by the names configs use (``method``), and the one place a config becomes a network.

:data:`METHODS` maps a method name to its model class, written ``"module:Class"``
(a module of :mod:`reidlib.models`, imported when first built). Each class
builds itself from a :class:`reidlib.engine.TrainConfig` with its
``from_config`` classmethod: it reads ``config.model.options`` into its own
options dataclass (a misspelt option fails by name) and refuses settings it
cannot run with. A new method is one module and one line here.
Backbones: :mod:`reidlib.models.backbones`.
"""

from __future__ import annotations

import importlib

from .backbones import BACKBONES, build_backbone
from .base import ReIDModel, method_options

# The baselines: ``mscan_body`` and ``dgd`` are the IDE head on the backbones their papers
# use (their configs choose the backbone); ``bot`` is the IDE head with BoT's BN neck and losses.
METHODS: dict[str, str | type[ReIDModel]] = {
    "ide": "baselines:IDE",
    "bot": "baselines:IDE",
    "global_local": "baselines:GlobalLocal",
    "mscan_body": "baselines:IDE",
    "dgd": "baselines:IDE",
    "fanet": "fanet:FANet",
    "ftn": "ftn:FTN",
    "bgbias": "bgbias:PartGuidedNet",
    "mgcam": "mgcam:MGCAM",
    "fmn": "fmn:FMN",
}


def model_class(method: str) -> type[ReIDModel]:
    """The class of ``method`` (a key of :data:`METHODS`)."""
    from ..engine.config import ConfigError

    if method not in METHODS:
        raise ConfigError(f"unknown method {method!r}; choose one of {', '.join(sorted(METHODS))}")
    entry = METHODS[method]
    if isinstance(entry, str):
        module, _, name = entry.partition(":")
        entry = getattr(importlib.import_module(f"{__package__}.{module}"), name)
    return entry


def build_model(config, num_classes: int, num_cameras: int) -> ReIDModel:
    """The network of ``config.method`` for a training set of ``num_classes`` identities."""
    from ..engine.config import ConfigError

    model = model_class(config.method).from_config(config, num_classes, num_cameras)
    unknown = sorted(k for k in config.loss.weights if k not in model.loss_names)
    if unknown:
        raise ConfigError(f"loss.weights names {', '.join(unknown)}, which method {config.method!r} does not "
                          f"compute; its loss terms are {', '.join(model.loss_names)}")
    return model


__all__ = ["BACKBONES", "METHODS", "build_backbone", "build_model", "method_options", "model_class"]
