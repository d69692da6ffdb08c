"""The loaders of a run: training batches and the query / gallery sets."""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass

from torch.utils.data import DataLoader

from ..data import (
    BackgroundPool,
    MaskError,
    MaskSource,
    ReIDDataset,
    ReIDImages,
    build_transforms,
    eval_loader,
    train_loader,
)
from ..data.catalog import open_dataset
from ..data.mask_quality import parse_degradation
from .config import ConfigError, TrainConfig
from .distributed import DistInfo

SINGLE_PROCESS = DistInfo()  # the default: one process, no data sharding


@dataclass
class RunData:
    dataset: ReIDDataset
    train: DataLoader
    query: DataLoader
    gallery: DataLoader
    num_classes: int
    num_cameras: int


def open_run_dataset(config: TrainConfig, progress: bool = False) -> ReIDDataset:
    """The dataset of ``config.data`` (SynthReID is generated on first use).

    With ``data.test_dataset`` the returned dataset keeps the training split
    of ``data.dataset`` and takes query and gallery from the test dataset
    (``root`` stays the training dataset's; ``test_root`` is the other's).
    """
    d = config.data
    ds = open_dataset(d.dataset, d.data_root, progress=progress, **d.dataset_options)
    ds.test_root = ds.root
    if d.test_dataset is not None:
        other = open_dataset(d.test_dataset, d.test_data_root, progress=progress, **d.test_dataset_options)
        ds = dataclasses.replace(ds, name=f"{ds.name}->{other.name}", query=other.query, gallery=other.gallery,
                                 is_video=other.is_video)
        ds.test_root = other.root
    return ds


def background_pool(spec: str | None) -> BackgroundPool | None:
    """``data.background_pool``: a folder of images, or ``synth-scenes:<family>`` (100 empty SynthReID scenes).

    Either is split into a training part (training augmentation) and a
    held-out test part (random-background test sets; see :class:`BackgroundPool`):
    for the scenes, the first 50 and the last 50.
    """
    if not spec:
        return None
    if spec.startswith("synth-scenes:"):
        return _synth_scene_pool(spec.split(":", 1)[1])
    return BackgroundPool(spec)


@functools.lru_cache(maxsize=4)
def _synth_scene_pool(family: str) -> BackgroundPool:
    # Rendering 100 scenes takes seconds; evaluating many runs reuses them (the pool is read-only).
    # Tensors are split by position: scenes 0-49 for training, 50-99 held out for testing
    # (each half cycles through all four cameras of the scene world).
    from ..data.synth.backgrounds import scene_backgrounds

    return BackgroundPool(scene_backgrounds(family, count=100))


def needs_masks(config: TrainConfig, model_needs: tuple[str, ...]) -> bool:
    d = config.data
    return ("mask" in model_needs or d.rgbm or d.background != "original" or d.random_background_p > 0
            or (d.test_background or "original") != "original")


def mask_sources(config: TrainConfig, dataset: ReIDDataset) -> tuple[MaskSource, MaskSource]:
    """The training and the test :class:`MaskSource`, each with its ``data`` mask degradation.

    Test masks come from ``data.test_mask_root`` when set (a tree mirroring
    the test dataset's folder), else from the training mask tree when the
    test images are the training dataset's, else from the test dataset's own.
    """
    d = config.data
    train_spec = parse_degradation(d.mask_degradation)
    test_spec = parse_degradation(d.mask_degradation if d.test_mask_degradation is None else d.test_mask_degradation)
    # "none" loads the mask untouched (no per-image call).
    train = MaskSource(dataset.root, d.mask_root, transform=None if train_spec.kind == "none" else train_spec)
    test_transform = None if test_spec.kind == "none" else test_spec
    test_root = getattr(dataset, "test_root", dataset.root)
    if d.test_mask_root is not None:
        try:
            return train, MaskSource(test_root, d.test_mask_root, transform=test_transform)
        except MaskError as exc:
            raise MaskError(f"data.test_mask_root: {exc}") from None
    if test_root == dataset.root and test_spec == train_spec:
        return train, train
    return train, MaskSource(test_root, d.mask_root if test_root == dataset.root else None, transform=test_transform)


def _check_mask_settings(config: TrainConfig, use_masks: bool) -> None:
    # A mask setting on a run that loads no masks would silently change nothing but the fingerprint.
    d = config.data
    set_keys = [f"data.{k}={getattr(d, k)}" for k in ("mask_degradation", "test_mask_degradation", "test_mask_root")
                if getattr(d, k) not in (None, "none")]
    if set_keys and not use_masks:
        raise ConfigError(f"{', '.join(set_keys)} changes nothing: method {config.method!r} with these data settings "
                          "loads no masks (no mask input, RGB-M, attention target or background variant); "
                          "leave the mask settings at their defaults for it")


def build_run_data(config: TrainConfig, dataset: ReIDDataset, model_needs: tuple[str, ...],
                   info: DistInfo = SINGLE_PROCESS, pin_memory: bool = False) -> RunData:
    """Loaders for training (P x K, this process's share) and for testing (in record order)."""
    d = config.data
    use_masks = needs_masks(config, model_needs)
    _check_mask_settings(config, use_masks)
    masks, test_masks = mask_sources(config, dataset) if use_masks else (None, None)
    pool = background_pool(d.background_pool)
    common = {"height": d.height, "width": d.width, "background_pool": pool, "rgbm": d.rgbm}
    train_tf = build_transforms(train=True, flip_p=d.flip_p, pad=d.pad, erasing_p=d.erasing_p,
                                background=d.background, random_background_p=d.random_background_p, **common)
    test_tf = build_transforms(train=False, background=d.test_background or d.background, **common)
    # Samples carry their split and their path under the dataset folder: random test backgrounds are
    # seeded by both, so query and gallery images never share one by position, in any clone.
    test_root = getattr(dataset, "test_root", dataset.root)
    def images(records, transform, mask_source, split, root):
        return ReIDImages(records, transform, mask_source, split=split, root=root, preload=d.preload)

    train = train_loader(images(dataset.train, train_tf, masks, "train", dataset.root), d.batch_size,
                         d.num_instances, d.num_workers, config.seed, d.sampler, info.rank, info.world_size,
                         persistent_workers=False, pin_memory=pin_memory)
    query = eval_loader(images(dataset.query, test_tf, test_masks, "query", test_root), d.test_batch_size,
                        d.num_workers)
    gallery = eval_loader(images(dataset.gallery, test_tf, test_masks, "gallery", test_root), d.test_batch_size,
                          d.num_workers)
    return RunData(dataset, train, query, gallery, dataset.num_train_pids, dataset.num_train_cams)
