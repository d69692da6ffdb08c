"""The loaders of a run: training batches and the query / gallery sets."""

from __future__ import annotations

from dataclasses import dataclass

from torch.utils.data import DataLoader

from ..data import BackgroundPool, MaskSource, ReIDDataset, ReIDImages, build_transforms, eval_loader, train_loader
from ..data.catalog import open_dataset
from .config import TrainConfig
from .distributed import DistInfo


@dataclass
class RunData:
    dataset: ReIDDataset
    train: DataLoader
    query: DataLoader
    gallery: DataLoader
    num_classes: int
    num_cameras: int


def open_run_dataset(config: TrainConfig, progress: bool = False) -> ReIDDataset:
    """The dataset of ``config.data`` (SynthReID is generated on first use)."""
    d = config.data
    return open_dataset(d.dataset, d.data_root, progress=progress, **d.dataset_options)


def needs_masks(config: TrainConfig, model_needs: tuple[str, ...]) -> bool:
    d = config.data
    return ("mask" in model_needs or d.rgbm or d.background != "original" or d.random_background_p > 0
            or (d.test_background or "original") != "original")


def build_run_data(config: TrainConfig, dataset: ReIDDataset, model_needs: tuple[str, ...],
                   info: DistInfo = DistInfo(), pin_memory: bool = False) -> RunData:
    """Loaders for training (P x K, this process's share) and for testing (in record order)."""
    d = config.data
    masks = MaskSource(dataset.root, d.mask_root) if needs_masks(config, model_needs) else None
    pool = BackgroundPool(d.background_pool) if d.background_pool else None
    common = {"height": d.height, "width": d.width, "background_pool": pool, "rgbm": d.rgbm}
    train_tf = build_transforms(train=True, flip_p=d.flip_p, pad=d.pad, erasing_p=d.erasing_p,
                                background=d.background, random_background_p=d.random_background_p, **common)
    test_tf = build_transforms(train=False, background=d.test_background or d.background, **common)
    train = train_loader(ReIDImages(dataset.train, train_tf, masks), d.batch_size, d.num_instances, d.num_workers,
                         config.seed, d.sampler, info.rank, info.world_size, persistent_workers=False,
                         pin_memory=pin_memory)
    query = eval_loader(ReIDImages(dataset.query, test_tf, masks), d.test_batch_size, d.num_workers)
    gallery = eval_loader(ReIDImages(dataset.gallery, test_tf, masks), d.test_batch_size, d.num_workers)
    return RunData(dataset, train, query, gallery, dataset.num_train_pids, dataset.num_train_cams)
