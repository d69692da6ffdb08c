"""Re-ID data: dataset readers, masks, joint image/mask transforms, samplers, loaders.

* :func:`load_dataset` (``market1501``, ``dukemtmc``, ``msmt17``, ``cuhk03``,
  ``mars``, ``viper``, ``cuhk01``, ``3dpes``, ``folder``) returns a
  :class:`ReIDDataset` of train / query / gallery :class:`Record` s.
* :class:`MaskSource` finds part-label masks in a tree mirroring the images;
  ``python -m reidlib.data.segment masks`` writes one for a real dataset.
* :func:`build_transforms` and the background variants of
  :mod:`reidlib.data.transforms`; :class:`IdentitySampler` (P x K);
  :class:`ReIDImages`, :func:`train_loader`, :func:`eval_loader`.
"""

from .datasets import DATASETS, DatasetLayoutError, dataset_options, load_dataset, verify_images
from .images import ImageReadError, read_image
from .loaders import ReIDImages, eval_loader, train_loader
from .masks import PART_LABELS, MaskError, MaskSource, parts_from_foreground, read_label_map, write_label_map
from .records import Record, ReIDDataset, relabel
from .samplers import IdentitySampler
from .transforms import (
    BACKGROUND_VARIANTS,
    BackgroundPool,
    BackgroundVariant,
    GaussianWeight,
    RandomBackground,
    ToRGBM,
    build_transforms,
)

__all__ = [
    "BACKGROUND_VARIANTS",
    "DATASETS",
    "PART_LABELS",
    "BackgroundPool",
    "BackgroundVariant",
    "DatasetLayoutError",
    "GaussianWeight",
    "IdentitySampler",
    "ImageReadError",
    "MaskError",
    "MaskSource",
    "RandomBackground",
    "ReIDDataset",
    "ReIDImages",
    "Record",
    "ToRGBM",
    "build_transforms",
    "dataset_options",
    "eval_loader",
    "load_dataset",
    "parts_from_foreground",
    "read_image",
    "read_label_map",
    "relabel",
    "train_loader",
    "verify_images",
    "write_label_map",
]
