"""The four profiles, and how a run's config is assembled from its layers.

===========  =================================================================
profile      defaults (a method's ``reidlib/configs/<method>.yaml`` may override)
===========  =================================================================
``ci``       SynthReID ``tiny`` at 64x32, ``resnet_small`` at half width, batches of 4 x 4,
             2 epochs, no data workers, deterministic: seconds on a CPU. Proves
             the pipeline, not the science.
``cpu``      SynthReID ``small`` at 128x64, ``resnet_small`` at half width, batches of
             8 x 4, 30 epochs of Adam with warm-up and two decays, two data
             workers: a few minutes on two cores. The study's published results.
``market``   Market-1501 at 128x64 (its own 64x128 pixels), MobileNetV2 from the ImageNet
             weights of :mod:`reidlib.models.mobilenet`, batches of 16 x 4, 12 epochs
             of Adam at BoT's 3.5e-4 with warm-up and two decays, images decoded once
             into memory, no data workers: under an hour a run on one core. The
             papers' own setting (real data, a pretrained backbone), scaled down.
``gpu``      each paper's own hyper-parameters (the method file says which
             table or section each comes from) on ``synth-market`` or a real
             dataset (``--dataset market1501 --set data.data_root=DIR``),
             ResNet-50 at 256x128 with mixed precision.
===========  =================================================================

A *smoke* run (``$REIDLIB_SMOKE=1``, set by ``python -m reidlib.notebooks
--smoke``) keeps a ``cpu`` or ``gpu`` config's method, model and code path
but shrinks the work to seconds (:func:`smoke_settings`), so that a long
study's notebooks can be checked end to end before the hours are spent.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..paths import shared_data
from .config import ConfigError, TrainConfig, build, load_yaml, merge, parse_assignment, unflatten

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"

PROFILE_DEFAULTS: dict[str, dict] = {
    "ci": {
        "deterministic": True,
        "progress": False,
        "data": {"dataset": "synth-tiny", "height": 64, "width": 32, "batch_size": 16, "num_instances": 4,
                 "num_workers": 0, "test_batch_size": 64},
        "model": {"backbone": "resnet_small", "pretrained": None, "width": 0.5},
        "optim": {"name": "adam", "lr": 1e-3, "weight_decay": 5e-4},
        "schedule": {"epochs": 2, "warmup_epochs": 0, "milestones": []},
        "eval": {"flip": False},
    },
    "cpu": {
        "data": {"dataset": "synth-small", "height": 128, "width": 64, "batch_size": 32, "num_instances": 4,
                 "num_workers": 2, "test_batch_size": 128},
        "model": {"backbone": "resnet_small", "pretrained": None, "width": 0.5},
        "optim": {"name": "adam", "lr": 1e-3, "weight_decay": 5e-4},
        "schedule": {"epochs": 30, "warmup_epochs": 3, "milestones": [20, 26]},
        "eval": {"every": 10, "flip": True},
    },
    "market": {
        "data": {"dataset": "market1501", "data_root": str(shared_data("market1501")), "height": 128, "width": 64,
                 "batch_size": 64, "num_instances": 4, "num_workers": 0, "test_batch_size": 256, "preload": True,
                 "pad": 5, "erasing_p": 0.5},
        "model": {"backbone": "mobilenetv2", "pretrained": "imagenet", "last_stride": 1, "width": 1.0},
        "optim": {"name": "adam", "lr": 3.5e-4, "weight_decay": 5e-4},
        "schedule": {"epochs": 12, "warmup_epochs": 2, "milestones": [7, 10]},
        "eval": {"every": 6, "flip": True},
    },
    "gpu": {
        "data": {"dataset": "synth-market", "height": 256, "width": 128, "batch_size": 64, "num_instances": 4,
                 "num_workers": 8, "test_batch_size": 256},
        "model": {"backbone": "resnet50", "last_stride": 1},
        "optim": {"name": "adam", "lr": 3.5e-4, "weight_decay": 5e-4},
        "schedule": {"epochs": 120, "warmup_epochs": 10, "milestones": [40, 70]},
        "eval": {"every": 40, "flip": True},
    },
}


SMOKE_ENV = "REIDLIB_SMOKE"
# SynthReID small / market give way to tiny; a real dataset (data.data_root) is kept.
SMOKE_DATASETS = {"synth-small": "synth-tiny", "synth-market": "synth-tiny"}
SMOKE_MAX_LR = 1e-3


def smoke_run() -> bool:
    """Whether configs are being shrunk for a smoke run (``$REIDLIB_SMOKE=1``)."""
    return os.environ.get(SMOKE_ENV, "") == "1"


def smoke_settings(values: dict) -> dict:
    """A config (as nested values) shrunk for a smoke run: one epoch per stage, on small images.

    What is kept: the method, model options, losses, stages and their order,
    mask and background settings, a real dataset. What changes: every stage
    trains one epoch without warm-up or decays, SynthReID ``small`` and
    ``market`` become ``tiny``, images are half the profile's size (at least
    64x32: a model that cuts its feature map into stripes still finds enough
    rows) in batches of 4 x 4 with no data workers, the learning rate is at
    most 1e-3 (the optimizer and its parameter groups stay; a rate meant for
    ImageNet weights sends a network that starts from random ones to NaN in
    one epoch), and no ImageNet weights are loaded (a machine without them
    can still check the ``gpu`` path; the real run fails at once, naming the
    file, where they are missing). The numbers are meaningless; only the code
    path is checked.
    """
    data = values.get("data") or {}
    # A stage without its own epochs / warm-up / rate takes the schedule's; milestones are dropped.
    stages = [{**stage, **({"epochs": 1} if stage.get("epochs") else {}),
               **({"warmup_epochs": 0} if stage.get("warmup_epochs") else {}),
               **({"lr": min(stage["lr"], SMOKE_MAX_LR)} if stage.get("lr") else {}), "milestones": None}
              for stage in (values.get("schedule") or {}).get("stages") or []]
    lr = (values.get("optim") or {}).get("lr", SMOKE_MAX_LR)
    return merge(values, {
        "model": {"pretrained": None},
        "optim": {"lr": min(lr, SMOKE_MAX_LR)},
        "data": {"dataset": SMOKE_DATASETS.get(data.get("dataset"), data.get("dataset")),
                 "height": max(64, data.get("height", 0) // 2), "width": max(32, data.get("width", 0) // 2),
                 "batch_size": 16, "num_instances": 4,
                 "num_workers": 0, "test_batch_size": 64},
        "schedule": {"epochs": 1, "warmup_epochs": 0, "milestones": [], "stages": stages}})


def method_file(method: str) -> Path:
    return CONFIG_DIR / f"{method}.yaml"


def method_spec(method: str) -> dict:
    """The parsed ``reidlib/configs/<method>.yaml``: ``description``, ``sources`` and ``profiles``."""
    path = method_file(method)
    if not path.is_file():
        known = sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))
        raise ValueError(f"unknown method {method!r} (no {path}); choose one of {', '.join(known)}")
    spec = load_yaml(path)
    unknown = sorted(set(spec) - {"description", "profiles", "papers"})
    if unknown:
        raise ConfigError(f"{path}: unknown top-level key(s) {', '.join(unknown)}; "
                          "a method file has description, profiles and papers")
    for name, paper in (spec.get("papers") or {}).items():
        extra = sorted(set(paper) - {"reference", "settings", "sources", "reported"})
        if extra:
            raise ConfigError(f"{path}: paper {name!r} has unknown key(s) {', '.join(extra)}")
    return spec


def paper_settings(method: str) -> dict[str, dict]:
    """The gpu-profile settings of each paper that uses ``method`` as its baseline, with their sources."""
    return dict(method_spec(method).get("papers") or {})


def make_config(method: str, profile: str = "ci", dataset: str | None = None, seed: int | None = None,
                overrides: list[str] | dict | None = None, config_file: str | os.PathLike | None = None,
                paper: str | None = None) -> TrainConfig:
    """The config of one run, built layer by layer (see :mod:`reidlib.engine.config`).

    Args:
        method: a method with a file in ``reidlib/configs`` (``ide``, ``global_local``, ...).
        profile: ``ci``, ``cpu`` or ``gpu``.
        dataset, seed: shortcuts for ``data.dataset`` and ``seed``.
        overrides: ``["optim.lr=0.01", ...]`` (as ``--set``) or a dict (nested, or with dotted keys).
        config_file: a YAML file of overrides, applied before ``overrides``.
        paper: at the gpu profile, whose hyper-parameters to use when several
            papers share the method (``ide``: ``fanet`` or ``fmn``); default:
            the first paper listed in the method file.
    """
    if profile not in PROFILE_DEFAULTS:
        raise ValueError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILE_DEFAULTS)}")
    spec = method_spec(method)
    layers = [PROFILE_DEFAULTS[profile], (spec.get("profiles") or {}).get(profile) or {}]
    papers = spec.get("papers") or {}
    if paper is not None and profile != "gpu":
        raise ConfigError(f"paper={paper!r} chooses paper-scale hyper-parameters, which belong to the gpu profile")
    if profile == "gpu" and papers:
        paper = paper or next(iter(papers))
        if paper not in papers:
            raise ConfigError(f"method {method!r} has no settings for paper {paper!r}; it has {', '.join(papers)}")
        layers.append(papers[paper].get("settings") or {})
    elif paper is not None:
        raise ConfigError(f"method {method!r} lists no paper settings")
    if config_file is not None:
        layers.append(load_yaml(config_file))
    if isinstance(overrides, dict):
        layers.append(unflatten(overrides))
    else:
        layers += [parse_assignment(item) for item in overrides or []]
    values: dict = {"method": method, "profile": profile}
    for layer in layers:
        values = merge(values, layer)
    if dataset is not None:
        values = merge(values, {"data": {"dataset": dataset}})
    if seed is not None:
        values["seed"] = seed
    if profile != "ci" and smoke_run():
        values = smoke_settings(values)
    if values.get("method") != method or values.get("profile") != profile:
        raise ConfigError("method and profile are chosen by make_config's arguments (--method, --profile), "
                          "not by config files or --set")
    return build(TrainConfig, values)


def lookup(values: dict, key: str):
    """The value at dotted ``key`` of a nested config dict; a list along the way gives a list of values."""
    value = values
    for part in key.split("."):
        value = [v[part] for v in value] if isinstance(value, list) else value[part]
    return value


def paper_settings_rows(method: str, paper: str) -> list[dict]:
    """``[{"setting", "value", "source"}]``: the gpu config of ``paper`` for ``method``, with where each comes from."""
    spec = paper_settings(method)[paper]
    gpu = make_config(method, "gpu", paper=paper).to_dict()
    return [{"setting": key, "value": str(lookup(gpu, key)), "source": source}
            for key, source in (spec.get("sources") or {}).items()]
