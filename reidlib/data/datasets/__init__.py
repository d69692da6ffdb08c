"""One reader per re-ID dataset, each taking the folder exactly as its authors distribute it.

>>> ds = load_dataset("market1501", "/data/Market-1501-v15.09.15")      # doctest: +SKIP
>>> ds = load_dataset("cuhk03", "/data/cuhk03", subset="detected")      # doctest: +SKIP
>>> ds.statistics()                                                     # doctest: +SKIP

Every reader returns a :class:`~reidlib.data.records.ReIDDataset`: training
identities relabelled 0..N-1, 0-based cameras, absolute image paths, and the
official counts in ``expected`` (a warning per difference when read). A
folder that is not the dataset raises :class:`DatasetLayoutError` saying
what is missing or unexpected.

=============  ==========================================================
name           options (keyword, default)
=============  ==========================================================
market1501     include_500k_distractors=False
dukemtmc       (none)
folder         (none): any folder in the Market-1501 layout
msmt17         combine_val=False, version=None (1 or 2)
cuhk03         subset="labeled", protocol="new", split=0, extract_dir=None
mars           (none)
viper          split_seed=0, num_test_ids=316
cuhk01         split_seed=0, num_test_ids=486, shot="multi"
3dpes          split_seed=0, num_test_ids=96, shot="multi"
=============  ==========================================================
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable

from ..records import ReIDDataset
from .common import DatasetLayoutError, verify_images
from .cuhk01 import read_cuhk01
from .cuhk03 import extract_images as extract_cuhk03_images
from .cuhk03 import read_cuhk03
from .market1501 import read_dukemtmc, read_folder, read_market1501
from .mars import read_mars
from .msmt17 import read_msmt17
from .threedpes import read_3dpes
from .viper import read_viper

DATASETS: dict[str, Callable[..., ReIDDataset]] = {
    "market1501": read_market1501,
    "dukemtmc": read_dukemtmc,
    "msmt17": read_msmt17,
    "cuhk03": read_cuhk03,
    "mars": read_mars,
    "viper": read_viper,
    "cuhk01": read_cuhk01,
    "3dpes": read_3dpes,
    "folder": read_folder,
}

__all__ = ["DATASETS", "DatasetLayoutError", "dataset_options", "extract_cuhk03_images", "load_dataset",
           "verify_images"]


def dataset_options(name: str) -> dict[str, object]:
    """The options of dataset ``name`` and their defaults."""
    reader = _reader(name)
    return {p.name: p.default for p in inspect.signature(reader).parameters.values()
            if p.kind is inspect.Parameter.KEYWORD_ONLY}


def load_dataset(name: str, root: str | os.PathLike, **options: object) -> ReIDDataset:
    """Read dataset ``name`` (a key of :data:`DATASETS`) from ``root`` with the reader's ``options``.

    Raises ``ValueError`` for an unknown name or option (naming the valid
    ones) and :class:`DatasetLayoutError` for a folder that is not the dataset.
    """
    valid = dataset_options(name)
    unknown = sorted(set(options) - set(valid))
    if unknown:
        choices = ", ".join(f"{k}={v!r}" for k, v in valid.items()) or "none"
        raise ValueError(f"unknown option{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} for dataset "
                         f"{name!r}; its options (with defaults) are: {choices}")
    return _reader(name)(root, **options)


def _reader(name: str) -> Callable[..., ReIDDataset]:
    try:
        return DATASETS[name]
    except KeyError:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}") from None
