"""The contract between a method and :mod:`reidlib.engine`.

A method is an ``nn.Module`` subclass of :class:`ReIDModel`. The engine
gives it whole batches (dicts from :class:`reidlib.data.ReIDImages`), asks it
for named loss terms, weighs them with the config's ``loss.weights``, and at
test time asks it for one embedding per image. Everything method-specific
(what the forward pass computes, which batch entries it reads, which terms
it can compute) stays in the method's own module.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn


def method_options(cls, config, method: str):
    """``config.model.options`` as the dataclass ``cls``; unknown options raise by name."""
    from ..engine.config import build

    return build(cls, config.model.options, f"model.options (method {method})")


@dataclass
class NoOptions:
    """For methods without options of their own."""


class ReIDModel(nn.Module, abc.ABC):
    """Base class of every trainable method.

    Class attributes a method sets:
        loss_names: the loss terms :meth:`losses` returns; configs may weigh
            only these (anything else is rejected by name).
        tasks: for alternating schedules, task name -> the loss terms of that
            task (FTN alternates ``"reid"`` and ``"reconstruction"`` batches).
        needs: batch entries besides ``image`` and ``pid`` that the method
            reads (``"mask"``, ``"camid"``); the engine loads masks when
            ``"mask"`` is listed.
        pretrained_modules: names of children initialised from ImageNet; the
            optimiser gives them ``optim.pretrained_lr_mult`` x the base rate.
    """

    loss_names: tuple[str, ...] = ()
    tasks: ClassVar[dict[str, tuple[str, ...]]] = {}
    needs: tuple[str, ...] = ()
    pretrained_modules: tuple[str, ...] = ()

    @classmethod
    def from_config(cls, config, num_classes: int, num_cameras: int) -> ReIDModel:
        """The network a :class:`reidlib.engine.TrainConfig` describes, for ``num_classes`` training identities
        seen by ``num_cameras`` cameras; checks the settings the method cannot run with."""
        raise NotImplementedError(f"{cls.__name__} has no from_config: it cannot be built from a config")

    @abc.abstractmethod
    def forward(self, batch: dict) -> dict[str, torch.Tensor]:
        """Outputs of one batch; in eval mode they include ``"embedding"``, (B, D).

        Under an alternating schedule ``batch["task"]`` names the batch's task.
        """

    @abc.abstractmethod
    def losses(self, outputs: dict, batch: dict, task: str | None = None) -> dict[str, torch.Tensor]:
        """Unweighted scalar loss terms, keyed by :attr:`loss_names` (the terms of ``task`` when given)."""

    # A method may define ``on_stage_start(stage_name)``: the engine calls it when a
    # stage of the schedule begins (not when a run resumes inside a stage).

    @torch.no_grad()
    def embed(self, batch: dict) -> torch.Tensor:
        """(B, D) test-time embeddings of a batch (the model must be in eval mode)."""
        return self(batch)["embedding"]
