"""Training configurations: dataclasses that record everything that changes a result.

A config is built in layers, each overriding the one before:

1. the dataclass defaults below;
2. the profile's defaults (:mod:`reidlib.engine.profiles`: ``ci``, ``cpu``, ``gpu``);
3. the method's own settings for that profile (``reidlib/configs/<method>.yaml``);
4. a user YAML file (``--config``);
5. ``--set key=value`` overrides (``optim.lr=0.01``, ``data.height=256``).

Every layer is checked against the dataclasses, so a misspelt key fails
with its name and the keys that exist instead of being ignored.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml


class ConfigError(ValueError):
    """A configuration key or value that does not exist or does not fit."""


# ----------------------------------------------------------------------------- reading YAML

_FLOAT_TAG = "tag:yaml.org,2002:float"
# PyYAML follows YAML 1.1, where a float needs a dot and a signed exponent: ``1e-3``, ``5E-4`` and
# ``1.5e3`` are read as strings there, and a learning rate written as papers write it fails as
# "not a number". This resolver reads the spellings of YAML 1.2 (and of Python's float()) as floats
# too; an integer (``3``) stays an integer, and YAML 1.1's other float forms are kept.
_FLOAT_PATTERN = re.compile(r"""^(?:[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+]?[0-9]+)?
                                 |[-+]?\.[0-9][0-9_]*(?:[eE][-+]?[0-9]+)?
                                 |[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+
                                 |[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*
                                 |[-+]?\.(?:inf|Inf|INF)
                                 |\.(?:nan|NaN|NAN))$""", re.VERBOSE)


def _config_resolvers() -> dict:
    # SafeLoader's table with the float pattern replaced in place (the resolvers' order is kept).
    return {first: [(tag, _FLOAT_PATTERN if tag == _FLOAT_TAG else pattern) for tag, pattern in resolvers]
            for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}


class ConfigLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that reads ``1e-3`` and ``5E-4`` as floats (see ``_FLOAT_PATTERN``)."""

    yaml_implicit_resolvers = _config_resolvers()


class ConfigDumper(yaml.SafeDumper):
    """``yaml.SafeDumper`` that quotes a string ``ConfigLoader`` would read as a float (``"1e-3"``)."""

    yaml_implicit_resolvers = _config_resolvers()


def read_yaml(text: str):
    """``text`` parsed by :class:`ConfigLoader`: every config file and ``--set`` value is read here."""
    return yaml.load(text, Loader=ConfigLoader)


@dataclass
class DataConfig:
    """What is trained and tested on, and how images are prepared."""

    dataset: str = "synth-tiny"  # synth-tiny / synth-small / synth-market / synth-duke or a real dataset name
    data_root: str | None = None  # folder of a real dataset
    dataset_options: dict = field(default_factory=dict)  # passed to the reader or the SynthReID generator
    mask_root: str | None = None  # masks of a real dataset (see reidlib.data.masks); SynthReID has its own
    height: int = 256
    width: int = 128
    batch_size: int = 64  # P x K, over all processes
    num_instances: int = 4  # K
    sampler: str = "identity"  # identity (P x K) or random
    num_workers: int = 2
    test_batch_size: int = 128
    preload: bool = False  # decode every image once into memory (real datasets of small crops)
    flip_p: float = 0.5
    pad: int = 10
    erasing_p: float = 0.5
    background: str = "original"  # original / mean_background / random_background / background_only (train and test)
    test_background: str | None = None  # a different variant at test time (None = as background)
    background_pool: str | None = None  # folder of background images, or synth-scenes:<family> (SynthReID scenes)
    random_background_p: float = 0.0  # random-background augmentation probability (bgbias)
    rgbm: bool = False  # append the mask as a fourth channel (MGCAM)
    # Test on another dataset's query and gallery (unseen scenes): None tests on the training dataset.
    test_dataset: str | None = None
    test_data_root: str | None = None
    test_dataset_options: dict = field(default_factory=dict)
    # Mask quality (reidlib.data.mask_quality): none / erode:K / dilate:K (K pixels) / shift:F (F x width,
    # right), applied to each mask as loaded, so RGB-M, MGCAM's attention target and the background variants all
    # see it. test_mask_degradation None = as mask_degradation; test_mask_root: the test masks from another
    # tree mirroring the test dataset's folder (the segmenter's masks of a run trained on ground truth).
    mask_degradation: str = "none"
    test_mask_degradation: str | None = None
    test_mask_root: str | None = None

    def __post_init__(self):
        # A bad spec fails when the config is built, not when the first batch loads; the canonical spelling
        # ("erode:0" is "none", "shift:0.10" is "shift:0.1") keeps one fingerprint per distinct setting.
        from ..data.mask_quality import parse_degradation

        for key in ("mask_degradation", "test_mask_degradation"):
            value = getattr(self, key)
            if value is None and key == "test_mask_degradation":
                continue
            try:
                setattr(self, key, str(parse_degradation(value)))
            except ValueError as exc:
                raise ConfigError(f"data.{key}: {exc}") from None


@dataclass
class ModelConfig:
    """The network; ``options`` are the method's own settings, checked by the method."""

    backbone: str = "resnet50"  # resnet50 / resnet18 / resnet_small / mscan_body / inception_reid
    pretrained: str | None = None  # local path of ImageNet weights; None trains from scratch
    last_stride: int = 1
    width: float = 1.0  # channel multiplier of the from-scratch backbones (resnet_small, mscan_body, inception_reid)
    embed_dim: int = 0  # 0 = the backbone's width
    neck: str = "bnneck"  # bnneck / none
    dropout: float = 0.0
    options: dict = field(default_factory=dict)


@dataclass
class LossConfig:
    """Weights of the method's loss terms (by name) and the shared loss settings."""

    weights: dict = field(default_factory=lambda: {"id": 1.0})
    label_smoothing: float = 0.0
    triplet_margin: float | None = 0.3  # None = soft margin


@dataclass
class OptimConfig:
    name: str = "sgd"  # sgd / adam
    lr: float = 0.01
    weight_decay: float = 5e-4
    momentum: float = 0.9
    nesterov: bool = False
    betas: tuple[float, float] = (0.9, 0.999)
    pretrained_lr_mult: float = 1.0  # learning-rate factor of ImageNet-initialised layers (FA-Net: 0.1)
    bias_weight_decay: bool = True  # False: no weight decay on biases and norm parameters


@dataclass
class StageConfig:
    """One stage of a multi-stage schedule; unset fields inherit from ``schedule``.

    ``train`` lists the submodules (name prefixes) that learn in this stage;
    the rest is frozen (eval-mode BN, no gradients). ``alternate`` cycles the
    method's tasks batch by batch (FTN: ``[reid, reconstruction]``).
    """

    name: str = "main"
    epochs: int | None = None
    train: list[str] | None = None
    loss_weights: dict | None = None
    lr: float | None = None
    warmup_epochs: int | None = None
    milestones: list[int] | None = None
    alternate: list[str] | None = None


@dataclass
class ScheduleConfig:
    epochs: int = 120
    warmup_epochs: int = 10  # linear warm-up from warmup_factor x lr
    warmup_factor: float = 0.1
    milestones: list[int] = field(default_factory=lambda: [40, 70])  # epochs where lr *= gamma
    gamma: float = 0.1
    stages: list[StageConfig] = field(default_factory=list)  # empty: one stage with the settings above


@dataclass
class EvalConfig:
    every: int = 0  # evaluate every N epochs during training (0: only at the end)
    flip: bool = True  # average each image's embedding with its mirror's
    normalize: bool = True  # L2-normalise embeddings
    metric: str = "euclidean"  # euclidean / cosine
    rerank: bool = False  # also report k-reciprocal re-ranking
    protocol: str | None = None  # None: the dataset's own


@dataclass
class TrainConfig:
    """A whole training run. ``fingerprint()`` identifies what changes its result."""

    method: str = "ide"
    profile: str = "ci"
    seed: int = 0
    device: str = "auto"  # auto / cpu / cuda / cuda:N
    output_dir: str | None = None  # None: runs/<method>/<profile>-<dataset>-s<seed>-<fingerprint>
    resume: bool = True  # continue from output_dir's checkpoint when its config matches
    amp: bool = True  # mixed precision (CUDA only)
    channels_last: bool = True  # channels-last memory format (faster convolutions on CUDA and CPU)
    deterministic: bool = True  # deterministic algorithms (CPU only)
    progress: bool = True
    log_every: int = 20  # steps between metrics-log lines
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    # Keys that change where or how visibly a run happens, not what it computes.
    NON_RESULT_KEYS: typing.ClassVar[tuple[str, ...]] = ("output_dir", "resume", "progress", "log_every",
                                                          "data.num_workers", "data.test_batch_size", "data.preload",
                                                          "device", "eval.every")

    # Keys added after runs were recorded, with the value that means "as before": at that
    # value they stay out of the fingerprint, so older runs keep matching their configs.
    NEUTRAL_VALUES: typing.ClassVar[dict] = {"data.test_dataset": None, "data.test_data_root": None,
                                             "data.test_dataset_options": {}, "data.mask_degradation": "none",
                                             "data.test_mask_degradation": None, "data.test_mask_root": None}

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def fingerprint(self) -> str:
        """A hash of every setting that changes the trained weights or the metrics.

        Paths under the repository or the shared data folder are hashed in their
        portable form (``<repo>/...``, ``<shared>/...``), so that a run has the same
        fingerprint, folder name and record in every clone.
        """
        from .records import portable_paths

        return settings_fingerprint(portable_paths(self.to_dict()))

    def to_yaml(self, path: str | os.PathLike | None = None) -> str:
        text = yaml.dump(_yaml_ready(self.to_dict()), Dumper=ConfigDumper, sort_keys=False)
        if path is not None:
            Path(path).write_text(text)
        return text


def settings_fingerprint(config: dict) -> str:
    """:meth:`TrainConfig.fingerprint` of a config as a dict (``to_dict()``, paths already portable)."""
    flat = flatten(config)
    kept = {k: v for k, v in flat.items() if k not in TrainConfig.NON_RESULT_KEYS
            and not (k in TrainConfig.NEUTRAL_VALUES and v == TrainConfig.NEUTRAL_VALUES[k])}
    return hashlib.sha256(json.dumps(kept, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _yaml_ready(value):
    if isinstance(value, dict):
        return {k: _yaml_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_yaml_ready(v) for v in value]
    return value


def flatten(tree: dict, prefix: str = "") -> dict:
    """``{"a": {"b": 1}} -> {"a.b": 1}``; dict-valued fields (``options``, ``weights``) are flattened too."""
    out = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out


# ----------------------------------------------------------------------------- building from dicts

def _convert(value, hint, where: str):
    """Check ``value`` against the type ``hint`` of field ``where`` and convert what is safe to convert."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if dataclasses.is_dataclass(hint):
        return build(hint, value, where)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return _convert(value, arg, where)
            except ConfigError as exc:
                errors.append(exc)
        if len(errors) == 1 and type(None) in args:  # "float | None": the float's own message says more
            raise ConfigError(f"{errors[0]} (or null)") from None
        raise ConfigError(f"{where}: {value!r} is not a {hint}")
    if origin is list:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        return [_convert(v, args[0], f"{where}[{i}]") for i, v in enumerate(value)] if args else list(value)
    if origin is tuple:
        if not isinstance(value, (list, tuple)) or len(value) != len(args):
            raise ConfigError(f"{where}: expected {len(args)} values, got {value!r}")
        return tuple(_convert(v, a, where) for v, a in zip(value, args))
    if hint is dict or origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected an integer, got {value!r}")
    if hint is float:
        return _to_float(value, where)
    if hint is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{where}: expected a string, got {value!r}")
    return value


def _to_float(value, where: str) -> float:
    """A float field's value: a number, or a string that Python's ``float()`` reads (``"1e-3"``), if finite."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    try:
        number = float(value)
    except ValueError:
        raise ConfigError(f"{where}: expected a number (like 0.01 or 1e-3), got {value!r}") from None
    if not math.isfinite(number):
        # No setting here means anything at infinity, and a NaN learning rate trains a NaN model.
        raise ConfigError(f"{where}: expected a finite number, got {value!r}")
    return number


def build(cls, values: dict | None, where: str = ""):
    """An instance of dataclass ``cls`` from a (nested) dict; unknown keys raise ConfigError by name."""
    values = values or {}
    if isinstance(values, cls):
        return values
    if not isinstance(values, dict):
        raise ConfigError(f"{where or cls.__name__}: expected a mapping, got {values!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - fields)
    if unknown:
        prefix = f"{where}." if where else ""
        raise ConfigError(f"unknown config key(s) {', '.join(prefix + k for k in unknown)}; "
                          f"{where or 'the top level'} has {', '.join(sorted(fields))}")
    kwargs = {k: _convert(v, hints[k], f"{where}.{k}" if where else k) for k, v in values.items()}
    return cls(**kwargs)


def merge(base: dict, override: dict) -> dict:
    """Nested dict update: mappings merge key by key, every other value is replaced.

    ``options`` and ``weights`` merge too, so a layer can change one loss
    weight; to drop a loss term, set its weight to 0.
    """
    out = dict(base)
    for key, value in (override or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def unflatten(values: dict) -> dict:
    """``{"data.height": 256}`` -> ``{"data": {"height": 256}}``; nested dicts pass through."""
    out: dict = {}
    for key, value in values.items():
        node = out
        parts = str(key).split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = unflatten(value) if isinstance(value, dict) and parts[-1] not in ("options", "weights",
                                                                                          "dataset_options",
                                                                                          "test_dataset_options") else value
    return out


def parse_assignment(text: str) -> dict:
    """``"optim.lr=0.01"`` -> ``{"optim": {"lr": 0.01}}``; the value is read as YAML (numbers, lists, null)."""
    if "=" not in text:
        raise ConfigError(f"--set expects key=value (like optim.lr=0.01), got {text!r}")
    key, raw = text.split("=", 1)
    value = read_yaml(raw) if raw.strip() else None
    node: dict = {}
    root = node
    parts = key.strip().split(".")
    for part in parts[:-1]:
        node[part] = {}
        node = node[part]
    node[parts[-1]] = value
    return root


def load_yaml(path: str | os.PathLike) -> dict:
    """A YAML mapping from ``path``; a missing file or a non-mapping raise with the path."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file {path} does not exist")
    data = read_yaml(path.read_text()) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a mapping of config keys, not {type(data).__name__}")
    return data
