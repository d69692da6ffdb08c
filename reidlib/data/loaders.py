"""Decoding records into samples, and the DataLoaders that feed training and testing."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset
from torchvision import tv_tensors
from tqdm import tqdm

from .images import ImageReadError, image_key, read_image
from .masks import MaskSource
from .records import Record
from .samplers import IdentitySampler


class ReIDImages(Dataset):
    """Records as samples: ``{"image", ["mask"], "pid", "camid", "tracklet", "index", "path", ["split"]}``.

    Args:
        records: the split to serve.
        transform: applied to the sample dict (see :mod:`reidlib.data.transforms`).
        masks: where the masks are; ``None`` loads no masks.
        split: the split's name (``"train"``, ``"query"``, ``"gallery"``), given to every sample.
        root: the dataset folder; a sample's ``"path"`` is its image's path under it (default: the
            masks' image folder), so that it names the image the same in every clone.
        preload: decode every image once, now, and serve them from memory (Market-1501's 36,036
            images at 128x64 take about 0.9 GB); also finds every unreadable image before training.

    Random test backgrounds are seeded by ``"split"`` and ``"path"``: a
    ``random_background`` transform refuses samples without a split.
    """

    def __init__(self, records: Sequence[Record], transform: Callable | None = None, masks: MaskSource | None = None,
                 split: str | None = None, root: str | os.PathLike | None = None, preload: bool = False):
        if len(records) == 0:
            raise ValueError("no records: the split is empty")
        self.records = list(records)
        self.transform = transform
        self.masks = masks
        self.split = split
        self.root = root if root is not None else (masks.image_root if masks is not None else None)
        self.images = decode_all([r.path for r in self.records], split) if preload else None

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> dict:
        rec = self.records[index]
        # A preloaded image is cloned: transforms may write into it (random erasing).
        image = self.images[index].clone() if self.images is not None else read_image(rec.path)
        sample = {"image": tv_tensors.Image(image), "pid": rec.pid, "camid": rec.camid,
                  "tracklet": rec.tracklet, "index": index, "path": image_key(rec.path, self.root)}
        if self.split is not None:
            sample["split"] = self.split
        if self.masks is not None:
            sample["mask"] = tv_tensors.Mask(torch.from_numpy(self.masks.load(rec.path, size=image.shape[-2:])))
        if self.transform is not None:
            sample = self.transform(sample)
        return sample


def decode_all(paths: Sequence[str], what: str | None = None) -> list[torch.Tensor]:
    """Every image of ``paths`` decoded, (3, H, W) uint8 each; one error listing all that fail.

    Decoding once spares the JPEG decoder every epoch: on two cores it costs
    about as much as the small network's training step on Market-1501's 64x128 crops.
    """
    images, failed = [], []
    for path in tqdm(paths, desc=f"decoding {what or 'images'}", unit="img", leave=False, mininterval=2,
                     disable=len(paths) < 2000):
        try:
            images.append(read_image(path))
        except ImageReadError as exc:
            failed.append(str(exc))
    if failed:
        shown = "; ".join(failed[:5]) + (f"; and {len(failed) - 5} more" if len(failed) > 5 else "")
        raise ImageReadError(f"{len(failed)} of {len(paths)} {what or ''} images cannot be read: {shown}. "
                             "Restore these files from the dataset's release (or remove them from the "
                             "folder, which changes the dataset) before training")
    return images


def _seed_worker(worker_id: int) -> None:
    # DataLoader seeds torch per worker from its generator; NumPy users get the same.
    np.random.seed(torch.initial_seed() % 2**32)


def train_loader(dataset: ReIDImages, batch_size: int = 64, num_instances: int = 4, num_workers: int = 2,
                 seed: int = 0, sampler: str = "identity", rank: int = 0, world_size: int = 1,
                 persistent_workers: bool = True, pin_memory: bool = False) -> DataLoader:
    """Training batches: P x K identity-balanced (``sampler="identity"``) or shuffled (``"random"``).

    ``batch_size`` is the global batch; with ``world_size`` processes each
    gets ``batch_size / world_size`` of it (see :class:`IdentitySampler`).
    The engine turns ``persistent_workers`` off and reseeds ``generator``
    every epoch, so that a resumed run draws the same augmentations.
    """
    if batch_size % world_size:
        raise ValueError(f"batch_size {batch_size} is not divisible by {world_size} processes")
    gen = torch.Generator().manual_seed(seed)
    if sampler == "identity":
        ids = [r.pid for r in dataset.records]
        cams = [r.camid for r in dataset.records]
        kwargs = {"sampler": IdentitySampler(ids, cams, batch_size, num_instances, seed, rank, world_size),
                  "drop_last": True}
    elif sampler == "random":
        if world_size > 1:
            from torch.utils.data.distributed import DistributedSampler

            kwargs = {"sampler": DistributedSampler(dataset, world_size, rank, shuffle=True, seed=seed),
                      "drop_last": True}
        else:
            kwargs = {"shuffle": True, "drop_last": True}
    else:
        raise ValueError(f"unknown sampler {sampler!r}; choose 'identity' or 'random'")
    return DataLoader(dataset, batch_size=batch_size // world_size, num_workers=num_workers, generator=gen,
                      worker_init_fn=_seed_worker, persistent_workers=persistent_workers and num_workers > 0,
                      pin_memory=pin_memory, **kwargs)


def eval_loader(dataset: ReIDImages, batch_size: int = 128, num_workers: int = 2) -> DataLoader:
    """Batches in record order, for feature extraction."""
    return DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers)
